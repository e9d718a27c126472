/// Per-sample agreement between a reference and a candidate output: for classifier scores,
/// whether the candidate keeps the reference's top class (top-1) or has it among its five
/// highest (top-5); for embeddings, the cosine of each vector pair.
public struct AgreementAccumulator: Sendable, Equatable {
    public let kind: OutputKind
    public private(set) var samples = 0
    public private(set) var top1Matches = 0
    public private(set) var top5Matches = 0
    public private(set) var cosineSum = 0.0
    public private(set) var vectors = 0

    public init(kind: OutputKind) {
        self.kind = kind
    }

    /// `reference` and `candidate` hold `samples` samples of equal size, first axis first.
    public mutating func add(reference: [Float], candidate: [Float], samples count: Int) {
        guard count > 0, reference.count == candidate.count else { return }
        switch kind {
        case .classifier(let classes):
            let perSample = reference.count / count
            guard perSample == classes else { return }
            for sample in 0..<count {
                let range = (sample * classes)..<((sample + 1) * classes)
                let expected = Self.topIndices(reference[range], 1)[0]
                let ranked = Self.topIndices(candidate[range], min(5, classes))
                if ranked[0] == expected { top1Matches += 1 }
                if ranked.contains(expected) { top5Matches += 1 }
            }
            samples += count
        case .embedding(let dimension):
            for start in stride(from: 0, to: reference.count - dimension + 1, by: dimension) {
                var dot = 0.0, a = 0.0, b = 0.0
                for i in start..<(start + dimension) {
                    dot += Double(reference[i]) * Double(candidate[i])
                    a += Double(reference[i]) * Double(reference[i])
                    b += Double(candidate[i]) * Double(candidate[i])
                }
                // Two zero vectors point the same way; one zero vector against another does not.
                cosineSum += a > 0 && b > 0 ? dot / (a * b).squareRoot() : (a == b ? 1 : 0)
                vectors += 1
            }
            samples += count
        case .tensor:
            break
        }
    }

    public var top1Agreement: Double? {
        guard case .classifier = kind, samples > 0 else { return nil }
        return Double(top1Matches) / Double(samples)
    }

    public var top5Agreement: Double? {
        guard case .classifier = kind, samples > 0 else { return nil }
        return Double(top5Matches) / Double(samples)
    }

    public var meanCosine: Double? {
        guard case .embedding = kind, vectors > 0 else { return nil }
        return cosineSum / Double(vectors)
    }

    /// Indices of the `k` largest scores, largest first; ties go to the lower index, as
    /// numpy's argsort of the negated scores (stable) orders them.
    static func topIndices(_ scores: ArraySlice<Float>, _ k: Int) -> [Int] {
        var best: [(index: Int, score: Float)] = []
        for (offset, score) in scores.enumerated() {
            let value = score.isNaN ? -Float.infinity : score
            if best.count == k, let last = best.last, value <= last.score { continue }
            let position = best.firstIndex { value > $0.score } ?? best.count
            best.insert((offset, value), at: position)
            if best.count > k { best.removeLast() }
        }
        return best.map(\.index)
    }
}
