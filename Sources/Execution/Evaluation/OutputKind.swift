/// What an output holds, read from the graph, so the evaluation reports what matters for it:
/// class agreement for a classifier's scores, direction (cosine) for embeddings.
public enum OutputKind: Sendable, Equatable {
    /// One score per class per sample ([N, classes], size-1 axes aside), from a layer that is
    /// not a normalization.
    case classifier(classes: Int)
    /// Vectors per sample ([N, D]) or per token ([N, T, D]) that come out of a normalization,
    /// or sequences of vectors.
    case embedding(dimension: Int)
    /// Anything else (images, maps, scalars): compared element by element only.
    case tensor

    /// Decides from the output's shape (batch axis first) and the op that produced it, looking
    /// through ops that only move or relabel elements.
    public static func of(output: String, shape: [Int], in graph: ExecutionGraph) -> OutputKind {
        let perSample = shape.dropFirst().filter { $0 != 1 }
        guard let last = perSample.last, last >= 2 else { return .tensor }
        let producer = Self.producer(of: output, in: graph)
        switch perSample.count {
        case 1:
            if let producer, producer.isNormalization { return .embedding(dimension: last) }
            return .classifier(classes: last)
        case 2:
            return .embedding(dimension: last)
        default:
            return .tensor
        }
    }

    /// The op that computed `value`'s elements: through reshapes, squeezes, casts and the like.
    static func producer(of value: String, in graph: ExecutionGraph) -> Operation? {
        var name = value
        for node in graph.nodes.reversed() {
            guard node.outputs.contains(name) else { continue }
            if node.operation.onlyMovesElements, let input = node.inputs.first, let source = input {
                name = source
                continue
            }
            return node.operation
        }
        return nil
    }
}

extension Operation {
    var onlyMovesElements: Bool {
        switch self {
        case .reshape, .squeeze, .unsqueeze, .flatten, .identity, .cast, .transpose: true
        default: false
        }
    }

    var isNormalization: Bool {
        switch self {
        case .layerNormalization, .instanceNormalization, .groupNormalization, .batchNormalization: true
        default: false
        }
    }
}
