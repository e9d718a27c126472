import Testing
@testable import Execution

@Suite struct ActivationCalibrationTests {
    /// x → relu → y = relu · 2: every value the graph computes, and its input.
    private func graph() -> ExecutionGraph {
        ExecutionGraph(inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, 3])], outputs: ["y"],
                       constants: ["two": ConstantTensor(shape: [], elements: .float32([2]))],
                       nodes: [GraphBuilding.node(.unary(.relu), ["x"], outputs: ["r"], name: "relu"),
                               GraphBuilding.node(.binary(.multiply), ["r", "two"], outputs: ["y"], name: "double")])
    }

    private let batches: [[Float]] = [[-1, 0.5, 2], [-4, 1, 0], [0.25, 3, -0.5]]

    private func batch(_ index: Int) -> (inputs: [String: Tensor], samples: Int) {
        (["x": Tensor(shape: [1, 3], floats: batches[index])], 1)
    }

    @Test func rangesCoverEverySampleForInputsAndComputedValues() throws {
        let executor = try Executor(graph(), threads: 1)
        var seen: [Double] = []
        let ranges = try ActivationCalibration.run(executor, batchCount: 3, batch: batch, method: .minMax, progress: { seen.append($0) })
        #expect(ranges["x"] == TensorRange(min: -4, max: 3))
        #expect(ranges["r"] == TensorRange(min: 0, max: 3))
        #expect(ranges["y"] == TensorRange(min: 0, max: 6))
        // Constants are not activations.
        #expect(ranges["two"] == nil)
        #expect(seen == [1.0 / 3, 2.0 / 3, 1])
    }

    @Test func onlyTheNamedTensorsAreGathered() throws {
        let executor = try Executor(graph(), threads: 1)
        let ranges = try ActivationCalibration.run(executor, batchCount: 3, batch: batch, method: .minMax, tensors: ["r"])
        #expect(Array(ranges.keys) == ["r"])
    }

    @Test func aCancelledCalibrationStops() throws {
        let executor = try Executor(graph(), threads: 1)
        #expect(throws: CancellationError.self) {
            _ = try ActivationCalibration.run(executor, batchCount: 3, batch: batch, method: .minMax, isCancelled: { true })
        }
    }
}
