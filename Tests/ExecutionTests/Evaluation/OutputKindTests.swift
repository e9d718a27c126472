import Testing
@testable import Execution

@Suite struct OutputKindTests {
    func graph(_ last: Operation, then: [Operation] = []) -> ExecutionGraph {
        var nodes = [Node(name: "last", sourceType: "x", operation: last, inputs: ["x"], outputs: ["v0"])]
        for (index, op) in then.enumerated() {
            nodes.append(Node(name: "n\(index)", sourceType: "x", operation: op, inputs: ["v\(index)", "shape"], outputs: ["v\(index + 1)"]))
        }
        return ExecutionGraph(inputs: [GraphInput(name: "x", elementType: .float32, shape: [nil, 8])],
                              outputs: ["v\(then.count)"], constants: [:], nodes: nodes)
    }

    @Test func scoresFromALinearLayerAreAClassifier() {
        let g = graph(.linear, then: [.reshape(allowZero: false)])
        #expect(OutputKind.of(output: "v1", shape: [4, 1000, 1, 1], in: g) == .classifier(classes: 1000))
    }

    @Test func vectorsFromANormalizationAreEmbeddings() {
        let g = graph(.layerNormalization(axes: [-1], epsilon: 1e-5), then: [.squeeze(axes: nil)])
        #expect(OutputKind.of(output: "v1", shape: [4, 384], in: g) == .embedding(dimension: 384))
    }

    @Test func sequencesAreEmbeddingsAndMapsAreTensors() {
        let g = graph(.linear)
        #expect(OutputKind.of(output: "v0", shape: [2, 16, 64], in: g) == .embedding(dimension: 64))
        #expect(OutputKind.of(output: "v0", shape: [2, 3, 32, 32], in: g) == .tensor)
        #expect(OutputKind.of(output: "v0", shape: [2, 1], in: g) == .tensor)
    }
}
