/// Raising a model's default-domain opset: which nodes a later opset reads differently, and
/// the IR version each opset came with.
enum ONNXOpsetRaise {
    /// The reductions whose `axes` attribute opset 18 turned into an input.
    static let reductionsWithAxesInput: Set<String> = [
        "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    ]

    /// Throws for the first node (subgraphs included) whose form `from` allows but `to`
    /// defines differently; other ops keep their meaning across these opsets.
    static func check(_ graph: OnnxSubset_GraphProto, from: Int, to: Int) throws(ONNXError) {
        func crosses(_ version: Int) -> Bool { from < version && version <= to }
        for node in graph.node {
            if ONNXModel.isDefaultDomain(node.domain) {
                let attributes = Set(node.attribute.map(\.name))
                let changed = switch node.opType {
                case let type where reductionsWithAxesInput.contains(type): crosses(18) && attributes.contains("axes")
                // DFT-20 takes `axis` as an input with another default; GridSample-20 renamed its modes.
                case "DFT": crosses(20)
                case "GridSample": crosses(20) && node.attribute.contains { $0.name == "mode" && ["bilinear", "bicubic"].contains(String(decoding: $0.s, as: UTF8.self)) }
                // GroupNormalization-21 scales per channel, -18 per group.
                case "GroupNormalization": crosses(21)
                default: false
                }
                if changed { throw .opsetRaiseChangesOp(opType: node.opType, from: from, to: to) }
            }
            for attribute in node.attribute {
                if attribute.hasG { try check(attribute.g, from: from, to: to) }
                for subgraph in attribute.graphs { try check(subgraph, from: from, to: to) }
            }
        }
    }

    /// The IR version released with `opset` (onnx/onnx docs/Versioning.md).
    static func irVersion(forOpset opset: Int) -> Int {
        switch opset {
        case ...13: 7
        case 14...18: 8
        case 19...20: 9
        default: 10
        }
    }
}
