import Testing
@testable import Execution

@Suite struct ExecutorTests {
    private func chain(length: Int, width: Int) -> ExecutionGraph {
        var nodes: [Node] = []
        var previous = "x"
        for index in 0..<length {
            nodes.append(GraphBuilding.node(.unary(.negate), [previous], outputs: ["v\(index)"], name: "n\(index)"))
            previous = "v\(index)"
        }
        return ExecutionGraph(inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, width])],
                              outputs: [previous], constants: [:], nodes: nodes)
    }

    @Test func aLongChainHoldsAboutTwoActivationsNotOnePerNode() throws {
        let width = 4096
        let executor = try Executor(chain(length: 20, width: width), threads: 2)
        let output = try executor.run(["x": Tensor(shape: [1, width], floats: [Float](repeating: 1, count: width))])
        #expect(output["v19"]!.floats!.allSatisfy { $0 == 1 })
        let activation = width * 4
        #expect(executor.peakActivationBytes >= 2 * activation)
        #expect(executor.peakActivationBytes <= 3 * activation)
    }

    @Test func foldingRunsDequantizationOfConstantsAtInitAndRunExecutesTheRest() throws {
        let graph = ExecutionGraph(
            inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, 2])],
            outputs: ["y"],
            constants: ["codes": ConstantTensor(shape: [2, 2], elements: .int64([2, 4, 6, 8])),
                        "scale": ConstantTensor(shape: [], elements: .float32([0.5]))],
            nodes: [GraphBuilding.node(.dequantizeLinear(axis: 1, blockSize: nil), ["codes", "scale", nil], outputs: ["w"], name: "dq"),
                    GraphBuilding.node(.matMul(transposeA: false, transposeB: false), ["x", "w"], outputs: ["y"], name: "mm")])
        let executor = try Executor(graph, threads: 1)
        #expect(executor.executedNodeCount == 1)
        var observed: [String] = []
        let output = try executor.run(["x": floats([1, 2], [1, 1])]) { node, results in
            observed.append(node.name)
            #expect(results[0].floats! == [4, 6])
        }
        #expect(observed == ["mm"])
        // w = [[1, 2], [3, 4]]; [1 1]·w = [4 6].
        #expect(output["y"]!.floats! == [4, 6])
    }

    @Test func shapeArithmeticOnAFoldedValueIsDoneOnce() throws {
        let graph = ExecutionGraph(
            inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, 6])],
            outputs: ["y"],
            constants: ["w": ConstantTensor(shape: [2, 3], elements: .float32([1, 2, 3, 4, 5, 6])),
                        "minus": ConstantTensor(shape: [1], elements: .int64([-1]))],
            nodes: [GraphBuilding.node(.shape(start: 0, end: nil), ["w"], outputs: ["s"], name: "shape"),
                    GraphBuilding.node(.reduce(.product, axes: [0], keepDimensions: true, noopWithEmptyAxes: false), ["s"], outputs: ["p"], name: "prod"),
                    GraphBuilding.node(.concat(axis: 0), ["minus", "p"], outputs: ["target"], name: "cat"),
                    GraphBuilding.node(.reshape(allowZero: false), ["x", "target"], outputs: ["y"], name: "reshape")])
        let executor = try Executor(graph, threads: 1)
        #expect(executor.executedNodeCount == 1)
        let y = try executor.run(["x": iota([2, 6])])["y"]!
        #expect(y.shape == [2, 6])
    }

    @Test func constantMatMulNBitsWeightsBecomeALinearLayerAtInit() throws {
        // N = 1, K = 2, 4 bits, block 2: codes 9 (low nibble) and 6, zero point 8, scale 0.5 → w = [0.5, -1].
        let graph = ExecutionGraph(
            inputs: [GraphInput(name: "a", elementType: .float32, shape: [nil, 2])], outputs: ["y"],
            constants: ["b": ConstantTensor(shape: [1, 1, 1], elements: .int64([0x69])),
                        "s": ConstantTensor(shape: [1], elements: .float32([0.5]))],
            nodes: [GraphBuilding.node(.matMulNBits(k: 2, n: 1, bits: 4, blockSize: 2), ["a", "b", "s"], name: "q")])
        let executor = try Executor(graph, threads: 1)
        var observed = 0
        let y = try executor.run(["a": floats([1, 2], [4, 2])]) { node, _ in
            #expect(node.operation == .matMulNBits(k: 2, n: 1, bits: 4, blockSize: 2))
            observed += 1
        }
        #expect(observed == 1)
        #expect(y["y"]!.floats! == [0])
    }

    @Test func theBatchAxisMayHaveAnySize() throws {
        let executor = try Executor(chain(length: 2, width: 3), threads: 2)
        for batch in [1, 5] {
            let y = try executor.run(["x": iota([batch, 3])])["v1"]!
            #expect(y == iota([batch, 3]))
        }
    }

    @Test func graphOutputsSurviveEvenWhenReadAgainLater() throws {
        let graph = ExecutionGraph(
            inputs: [GraphInput(name: "x", elementType: .float32, shape: [1])], outputs: ["a", "b", "x"], constants: [:],
            nodes: [GraphBuilding.node(.unary(.negate), ["x"], outputs: ["a"], name: "n1"),
                    GraphBuilding.node(.unary(.exp), ["a"], outputs: ["b"], name: "n2")])
        let y = try Executor(graph, threads: 1).run(["x": floats([1], [0])])
        #expect(y["a"]!.floats! == [0])
        #expect(y["b"]!.floats! == [1])
        #expect(y["x"]!.floats! == [0])
    }

    @Test func inputsThatDoNotFitTheModelAreRejectedNamingTheInput() throws {
        let executor = try Executor(ExecutionGraph(inputs: [GraphInput(name: "image", elementType: .float32, shape: [nil, 3, 4])],
                                                   outputs: ["image"], constants: [:], nodes: []), threads: 1)
        func reason(_ inputs: [String: Tensor]) -> String? {
            do {
                _ = try executor.run(inputs)
                return nil
            } catch let ExecutionError.invalidInput(name, reason) {
                #expect(name == "image")
                return reason
            } catch {
                return "\(error)"
            }
        }
        #expect(reason([:]) == "missing; the model expects float32 of shape [?, 3, 4]")
        #expect(reason(["image": iota([3, 4])])?.contains("rank 2") == true)
        #expect(reason(["image": iota([2, 3, 5])])?.contains("dimension 2 is 5") == true)
        #expect(reason(["image": int64s([1, 3, 4], [Int64](repeating: 0, count: 12))])?.contains("int64") == true)
        #expect(reason(["image": iota([7, 3, 4])]) == nil)
    }

    @Test func aGraphReadingAValueNothingProducesIsMalformed() {
        let graph = ExecutionGraph(inputs: [], outputs: ["y"], constants: [:],
                                   nodes: [GraphBuilding.node(.unary(.relu), ["ghost"], name: "r")])
        #expect(throws: ExecutionError.self) { try Executor(graph, threads: 1) }
        let missingOutput = ExecutionGraph(inputs: [], outputs: ["nowhere"], constants: [:], nodes: [])
        #expect(throws: ExecutionError.malformedGraph("output 'nowhere' is not produced by any op, input or constant")) {
            try Executor(missingOutput, threads: 1)
        }
    }

    @Test func anObserverErrorEndsTheRun() throws {
        struct Stop: Error {}
        let executor = try Executor(chain(length: 3, width: 2), threads: 1)
        var calls = 0
        #expect(throws: Stop.self) {
            try executor.run(["x": iota([1, 2])]) { _, _ in
                calls += 1
                throw Stop()
            }
        }
        #expect(calls == 1)
    }
}
