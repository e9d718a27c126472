import Testing
@testable import Execution

/// Two runs of the same tiny network — a float one and one whose second layer's weights were
/// damaged — compared end to end.
@Suite struct EvaluationTests {
    static func network(secondWeights: [Float]) -> ExecutionGraph {
        ExecutionGraph(
            inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, 3])],
            outputs: ["scores"],
            constants: [
                "w1": ConstantTensor(shape: [3, 3], elements: .float32([1, 0, 0, 0, 1, 0, 0, 0, 1])),
                "w2": ConstantTensor(shape: [4, 3], elements: .float32(secondWeights)),
            ],
            nodes: [
                Node(name: "fc1", sourceType: "linear", operation: .linear, inputs: ["x", "w1", nil], outputs: ["h"]),
                Node(name: "act", sourceType: "relu", operation: .unary(.relu), inputs: ["h"], outputs: ["r"]),
                Node(name: "fc2", sourceType: "linear", operation: .linear, inputs: ["r", "w2", nil], outputs: ["scores"]),
            ])
    }

    static let weights: [Float] = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5]

    func evaluate(candidate: [Float]) throws -> EvaluationResult {
        let evaluation = Evaluation(reference: try Executor(Self.network(secondWeights: Self.weights), threads: 1),
                                    candidate: try Executor(Self.network(secondWeights: candidate), threads: 1))
        let samples: [[Float]] = [[3, 1, 0], [0, 2, 1], [1, 0, 4], [2, 2, 0.5]]
        var reported: [Double] = []
        let result = try evaluation.run(batchCount: 2, batch: { index in
            (["x": Tensor(shape: [2, 3], floats: samples[2 * index] + samples[2 * index + 1])], 2)
        }, progress: { reported.append($0) })
        #expect(reported == [0.5, 1])
        return result
    }

    @Test func anUnchangedModelAgreesEverywhere() throws {
        let result = try evaluate(candidate: Self.weights)
        #expect(result.samples == 4)
        #expect(result.outputs.count == 1)
        #expect(result.outputs[0].agreement.top1Agreement == 1)
        #expect(result.outputs[0].error.snrDecibels == nil)
        #expect(result.layers.allSatisfy { $0.error.snrDecibels == nil })
    }

    @Test func theDamagedLayerLeadsTheTableAndLayersBeforeItAreExact() throws {
        // Class 0 and 1 swapped in fc2: every sample's top class changes where they differ.
        var damaged = Self.weights
        damaged.swapAt(0, 3)
        damaged.swapAt(1, 4)
        let result = try evaluate(candidate: damaged)
        #expect(result.layers.first?.name == "fc2")
        #expect(result.layers.first?.opType == "linear")
        #expect(result.layers.first.map { $0.error.snrDecibels != nil } == true)
        #expect(result.layers.filter { $0.name != "fc2" }.allSatisfy { $0.error.snrDecibels == nil })
        let agreement = try #require(result.outputs.first?.agreement.top1Agreement)
        #expect(agreement < 1)
    }
}
