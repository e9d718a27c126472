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
        var layers: [String: (name: String, opType: String, inputs: [String], error: ErrorAccumulator)] = [:]
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
                        layers[name] = (node.name, node.sourceType, node.inputs.compactMap { $0 }, ErrorAccumulator())
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
            // Inputs never compared (graph inputs, constants) are exact.
            let noisiest = layer.inputs.compactMap { layers[$0]?.error }.max { Self.noiseRatio($0) < Self.noiseRatio($1) }
            return EvaluationResult.Layer(name: layer.name, opType: layer.opType, output: output, error: layer.error,
                                          inputSNRDecibels: noisiest?.snrDecibels,
                                          addedNoise: Self.noiseRatio(layer.error) - (noisiest.map(Self.noiseRatio) ?? 0))
        }
        return EvaluationResult(
            samples: samples,
            seconds: (ContinuousClock.now - started).seconds,
            outputs: reference.graph.outputs.compactMap { name in
                outputs[name].map { EvaluationResult.Output(name: name, kind: $0.kind, error: $0.error, agreement: $0.agreement) }
            },
            layers: Self.worstFirst(compared))
    }

    /// Noise energy over signal energy: 0 when exact, infinite for a NaN or an all-zero signal.
    static func noiseRatio(_ error: ErrorAccumulator) -> Double {
        guard error.noiseEnergy > 0 else { return error.noiseEnergy.isNaN ? .infinity : 0 }
        guard error.signalEnergy > 0, error.noiseEnergy.isFinite else { return .infinity }
        return error.noiseEnergy / error.signalEnergy
    }

    /// The layers that add the most noise first (a non-finite one first of all); graph order
    /// among equals.
    static func worstFirst(_ layers: [EvaluationResult.Layer]) -> [EvaluationResult.Layer] {
        func rank(_ layer: EvaluationResult.Layer) -> Double {
            layer.addedNoise.isNaN || Self.noiseRatio(layer.error).isInfinite ? .infinity : layer.addedNoise
        }
        return layers.enumerated().sorted { a, b in
            let (x, y) = (rank(a.element), rank(b.element))
            return x != y ? x > y : a.offset < b.offset
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
