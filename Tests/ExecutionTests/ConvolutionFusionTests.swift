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

    /// (conv(x) + r) + shortcut(x), then ReLU: each convolution's only reader is an Add; the
    /// first Add's other side is `r` of the given shape, the second's the first Add.
    private func residualGraph(groups: Int, residual: [Int?]) -> ExecutionGraph {
        let w = pattern([4, 4 / groups, 3, 3], seed: 3), shortcut = pattern([4, 4, 1, 1], seed: 5)
        let constants: [String: ConstantTensor] = [
            "w": ConstantTensor(shape: w.shape, elements: w.elements),
            "b": ConstantTensor(shape: [4], elements: .float32([0.1, -0.2, 0.3, -0.4])),
            "shortcut": ConstantTensor(shape: shortcut.shape, elements: shortcut.elements),
        ]
        let same = Convolution(strides: [1, 1], dilations: [1, 1], padding: .explicit([1, 1, 1, 1]), groups: groups)
        let pointwise = Convolution(strides: [1, 1], dilations: [1, 1], padding: .valid, groups: 1)
        return ExecutionGraph(
            inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, 4, 5, 6]), GraphInput(name: "r", elementType: .float32, shape: residual)],
            outputs: ["y"], constants: constants,
            nodes: [GraphBuilding.node(.convolution(same), ["x", "w", "b"], outputs: ["h"], name: "conv"),
                    GraphBuilding.node(.binary(.add), ["h", "r"], outputs: ["t"], name: "add"),
                    GraphBuilding.node(.convolution(pointwise), ["x", "shortcut"], outputs: ["s"], name: "shortcut"),
                    GraphBuilding.node(.binary(.add), ["s", "t"], outputs: ["u"], name: "add2"),
                    GraphBuilding.node(.unary(.relu), ["u"], outputs: ["y"], name: "relu")])
    }

    @Test(arguments: [(1, [2, 4, 5, 6]), (4, [2, 4, 5, 6]), (1, [1, 4, 1, 1])])
    func residualAddsMergedIntoConvolutionsMatchTheNodeByNodeRun(_ groups: Int, _ residual: [Int]) throws {
        // A GEMM convolution and a depthwise one; a residual of the output's shape and one broadcast.
        let executor = try Executor(residualGraph(groups: groups, residual: residual.map { $0 }), threads: 2)
        let feeds = ["x": pattern([2, 4, 5, 6]), "r": pattern(residual, seed: 7)]
        let nodeByNode = try executor.run(feeds) { _, _ in }
        let merged = try executor.run(feeds)
        #expect(close(merged["y"]!.floats!, nodeByNode["y"]!.floats!))
        #expect(merged["y"]!.floats!.contains(0) && merged["y"]!.floats!.contains { $0 > 0 })
    }
}
