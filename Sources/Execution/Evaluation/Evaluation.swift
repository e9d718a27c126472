import Foundation

/// Runs a float model (the reference) and its compressed form (the candidate) on the same
/// batches and compares them: outputs by SNR, cosine, largest error and agreement; every op's
/// float output by SNR, so the table shows where the compressed model starts to drift.
///
/// The two graphs are matched by value name: quantd's rewrites keep every activation's name
/// (decompression ends in the weight's own name), so the same name is the same tensor.
public struct Evaluation: Sendable {
    public let reference: Executor
    public let candidate: Executor

    public init(reference: Executor, candidate: Executor) {
        self.reference = reference
        self.candidate = candidate
    }

    /// `batch(i)` gives the inputs of batch `i` of `batchCount` and how many samples it holds.
    /// Each batch runs the reference first, keeping its float intermediates (one batch's worth),
    /// then the candidate, compared as it goes.
    public func run(batchCount: Int, batch: (Int) throws -> (inputs: [String: Tensor], samples: Int),
                    progress: (Double) -> Void = { _ in }, isCancelled: () -> Bool = { false }) throws -> EvaluationResult {
        let started = ContinuousClock.now
        var outputs: [String: (kind: OutputKind, error: ErrorAccumulator, agreement: AgreementAccumulator)] = [:]
        var layers: [String: (name: String, opType: String, error: ErrorAccumulator)] = [:]
        var layerOrder: [String] = []
        var samples = 0
        for index in 0..<batchCount {
            if isCancelled() { throw CancellationError() }
            let (inputs, count) = try batch(index)
            var kept: [String: [Float]] = [:]
            let expected = try reference.run(inputs) { node, tensors in
                for (name, tensor) in zip(node.outputs, tensors) {
                    if let floats = tensor.floats { kept[name] = floats }
                }
            }
            let actual = try candidate.run(inputs) { node, tensors in
                for (name, tensor) in zip(node.outputs, tensors) {
                    guard let floats = tensor.floats, let reference = kept[name], reference.count == floats.count else { continue }
                    if layers[name] == nil {
                        layers[name] = (node.name, node.sourceType, ErrorAccumulator())
                        layerOrder.append(name)
                    }
                    layers[name]!.error.add(reference: reference, candidate: floats)
                }
            }
            for name in reference.graph.outputs {
                guard let want = expected[name]?.floats, let got = actual[name]?.floats, want.count == got.count else { continue }
                if outputs[name] == nil {
                    let kind = OutputKind.of(output: name, shape: expected[name]!.shape, in: reference.graph)
                    outputs[name] = (kind, ErrorAccumulator(), AgreementAccumulator(kind: kind))
                }
                outputs[name]!.error.add(reference: want, candidate: got)
                outputs[name]!.agreement.add(reference: want, candidate: got, samples: count)
            }
            samples += count
            progress(Double(index + 1) / Double(batchCount))
        }
        let compared = layerOrder.map { output in
            let layer = layers[output]!
            return EvaluationResult.Layer(name: layer.name, opType: layer.opType, output: output, error: layer.error)
        }
        return EvaluationResult(
            samples: samples,
            seconds: (ContinuousClock.now - started).seconds,
            outputs: reference.graph.outputs.compactMap { name in
                outputs[name].map { EvaluationResult.Output(name: name, kind: $0.kind, error: $0.error, agreement: $0.agreement) }
            },
            layers: Self.worstFirst(compared))
    }

    /// Lowest SNR first (NaN, from a non-finite value, lowest of all); identical layers (no SNR)
    /// last; graph order among equals.
    static func worstFirst(_ layers: [EvaluationResult.Layer]) -> [EvaluationResult.Layer] {
        func rank(_ snr: Double?) -> Double? { snr.map { $0.isNaN ? -.infinity : $0 } }
        return layers.enumerated().sorted { a, b in
            switch (rank(a.element.error.snrDecibels), rank(b.element.error.snrDecibels)) {
            case let (x?, y?) where x != y: return x < y
            case (nil, _?): return false
            case (_?, nil): return true
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }
}

extension Duration {
    /// As a Double, for reports and timings.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
