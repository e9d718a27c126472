/// Which nodes of the main graph read each value, which values subgraphs (If, Loop and Scan
/// bodies) read from the outer scope, and what the readers imply for a weight's axes.
struct ONNXConsumers {
    struct Use {
        let opType: String
        /// The position among the node's inputs.
        let input: Int
        let node: Int
    }

    private var uses: [String: [Use]] = [:]
    /// Names read anywhere inside a subgraph; a weight among them must stay as it is.
    private(set) var readInSubgraphs: Set<String> = []

    init(graph: OnnxSubset_GraphProto) {
        for (index, node) in graph.node.enumerated() {
            for (position, input) in node.input.enumerated() where !input.isEmpty {
                uses[input, default: []].append(Use(opType: Self.qualified(node), input: position, node: index))
            }
            for attribute in node.attribute {
                if attribute.hasG { collectReads(attribute.g) }
                for subgraph in attribute.graphs { collectReads(subgraph) }
            }
        }
    }

    func uses(of name: String) -> [Use] { uses[name] ?? [] }

    /// The op type, prefixed with its domain outside the default one (`com.microsoft.MatMulNBits`).
    static func qualified(_ node: OnnxSubset_NodeProto) -> String {
        node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : node.domain + "." + node.opType
    }

    /// The output-channel axis as coremltools picks it for the op each reader is: Conv 0,
    /// ConvTranspose 1, Gemm's B 0 with transB else 1, MatMul's B its last axis, Gather's data
    /// (embeddings) 0, anything else 0. Nil when readers disagree, when one reads it as an
    /// input that is not a weight (MatMul's A, Gemm's A and C), and for scalars.
    func outputAxis(of name: String, rank: Int, graph: OnnxSubset_GraphProto) -> Int? {
        guard rank > 0 else { return nil }
        var axes = Set<Int>()
        for use in uses(of: name) {
            let axis: Int?
            switch (use.opType, use.input) {
            case ("ConvTranspose", 1): axis = 1
            case ("Gemm", 1): axis = Self.integer("transB", of: graph.node[use.node]) == 1 ? 0 : 1
            case ("Gemm", _), ("MatMul", 0): axis = nil
            case ("MatMul", 1): axis = rank - 1
            default: axis = 0
            }
            guard let axis, axis < rank else { return nil }
            axes.insert(axis)
        }
        if axes.isEmpty { return 0 }
        return axes.count == 1 ? axes.first : nil
    }

    /// The largest `group` attribute among the Conv and ConvTranspose nodes reading `name`.
    func convolutionGroups(of name: String, graph: OnnxSubset_GraphProto) -> Int {
        uses(of: name).filter { ["Conv", "ConvTranspose"].contains($0.opType) }
            .map { Int(Self.integer("group", of: graph.node[$0.node]) ?? 1) }.max() ?? 1
    }

    /// The axis paired with `output` for per-block quantization, as quantd's Core ML path
    /// pairs them: 1 for 0, the other of the last two axes, else 0.
    static func inputAxis(output: Int?, rank: Int) -> Int? {
        guard let output, rank >= 2 else { return nil }
        if output == 0 { return 1 }
        if output == rank - 1 { return rank - 2 }
        if output == rank - 2 { return rank - 1 }
        return 0
    }

    static func integer(_ name: String, of node: OnnxSubset_NodeProto) -> Int64? {
        node.attribute.first { $0.name == name }.map(\.i)
    }

    private mutating func collectReads(_ graph: OnnxSubset_GraphProto) {
        for node in graph.node {
            readInSubgraphs.formUnion(node.input.filter { !$0.isEmpty })
            for attribute in node.attribute {
                if attribute.hasG { collectReads(attribute.g) }
                for subgraph in attribute.graphs { collectReads(subgraph) }
            }
        }
        // A subgraph's outputs may name an outer value directly, without a node reading it.
        readInSubgraphs.formUnion(graph.output.map(\.name))
    }
}
