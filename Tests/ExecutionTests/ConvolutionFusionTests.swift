import Testing
@testable import Execution

@Suite struct ConvolutionFusionTests {
    /// x → Conv(w, bias?) → BatchNormalization → activation → y, all operands but x constant.
    private func graph(channels: Int, groups: Int, bias: Bool, activation: Operation?, convolutionIsOutput: Bool = false) -> ExecutionGraph {
        let perGroup = channels / groups
        let w = pattern([channels, perGroup, 3, 3], seed: 3)
        var constants: [String: ConstantTensor] = [
            "w": ConstantTensor(shape: w.shape, elements: w.elements),
            "scale": ConstantTensor(shape: [channels], elements: .float32((0..<channels).map { 0.5 + Float($0) * 0.1 })),
            "shift": ConstantTensor(shape: [channels], elements: .float32((0..<channels).map { Float($0) * 0.05 - 0.1 })),
            "mean": ConstantTensor(shape: [channels], elements: .float32((0..<channels).map { Float($0) * 0.02 })),
            "variance": ConstantTensor(shape: [channels], elements: .float32((0..<channels).map { 0.5 + Float($0) * 0.25 })),
            "low": ConstantTensor(shape: [], elements: .float32([0])),
            "high": ConstantTensor(shape: [], elements: .float32([0.75])),
        ]
        if bias { constants["b"] = ConstantTensor(shape: [channels], elements: .float32((0..<channels).map { Float($0) * 0.1 - 0.2 })) }
        let convolution = Convolution(strides: [1, 1], dilations: [1, 1], padding: .explicit([1, 1, 1, 1]), groups: groups)
        var nodes = [
            GraphBuilding.node(.convolution(convolution), ["x", "w", bias ? "b" : nil], outputs: ["c"], name: "conv"),
            GraphBuilding.node(.batchNormalization(epsilon: 1e-5), ["c", "scale", "shift", "mean", "variance"], outputs: ["n"], name: "bn"),
        ]
        var output = "n"
        if let activation {
            let operands: [String?] = activation == .clip ? ["n", "low", "high"] : ["n"]
            nodes.append(GraphBuilding.node(activation, operands, outputs: ["y"], name: "act"))
            output = "y"
        }
        return ExecutionGraph(inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, channels, 6, 7])],
                              outputs: convolutionIsOutput ? [output, "c"] : [output], constants: constants, nodes: nodes)
    }

    @Test(arguments: [(4, 1, true, Operation.clip), (4, 4, false, .clip), (6, 2, true, .unary(.relu)), (4, 4, true, nil), (3, 1, false, .unary(.relu))])
    func aRunWithoutAnObserverMatchesTheNodeByNodeRun(_ channels: Int, _ groups: Int, _ bias: Bool, _ activation: Operation?) throws {
        let executor = try Executor(graph(channels: channels, groups: groups, bias: bias, activation: activation), threads: 2)
        let feeds = ["x": pattern([2, channels, 6, 7])]
        var observed: [String] = []
        let nodeByNode = try executor.run(feeds) { node, _ in observed.append(node.name) }
        let merged = try executor.run(feeds)
        #expect(observed == (activation == nil ? ["conv", "bn"] : ["conv", "bn", "act"]))
        let name = activation == nil ? "n" : "y"
        #expect(close(merged[name]!.floats!, nodeByNode[name]!.floats!))
        if activation == .clip { #expect(merged[name]!.floats!.allSatisfy { $0 >= 0 && $0 <= 0.75 }) }
    }

    @Test func aConvolutionWhoseOutputIsAlsoAGraphOutputIsNotMerged() throws {
        let executor = try Executor(graph(channels: 4, groups: 1, bias: true, activation: .unary(.relu), convolutionIsOutput: true), threads: 2)
        let feeds = ["x": pattern([1, 4, 6, 7])]
        let merged = try executor.run(feeds)
        let nodeByNode = try executor.run(feeds) { _, _ in }
        #expect(merged["c"]!.floats! == nodeByNode["c"]!.floats!)
        #expect(merged["y"]!.floats! == nodeByNode["y"]!.floats!)
        #expect(merged["c"]!.floats!.contains { $0 < 0 })
    }
}
