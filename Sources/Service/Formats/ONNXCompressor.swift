import Compression
import Foundation
import ModelFormats
import QuantCore

/// Compresses an ONNX model (a bare `.onnx`, or a zip/tar of one with its external data):
/// each weight the core compresses becomes a dequantization subgraph whose last node
/// outputs the weight's own name, so every consumer stays as it was; with `matmul_nbits`,
/// MatMul weights become onnxruntime's `MatMulNBits` instead. Everything else is copied.
struct ONNXCompressor {
    let pipeline: CompressionPipeline
    var weightForm: ONNXWeightForm = .qdq
    /// Activation quantization: onnxruntime's static QDQ pairs, inserted once the weights are
    /// replaced, so each weight's `DequantizeLinear` gives its bias the weight's scale.
    var activations: ActivationQuantizationPlan? = nil

    var compressor: WeightCompressor {
        WeightCompressor(pipeline: pipeline, linearRule: weightForm == .matMulNBits ? .matMulNBits : .coremltools)
    }

    static func open(_ bytes: UnsafeRawBufferPointer) throws -> ONNXModel {
        do { return try ONNXModel(archiveOrModel: bytes) } catch { throw Problem.invalidModel(error.description) }
    }

    /// What the core needs to know of an ONNX weight.
    static func candidate(_ w: ONNXWeight) -> WeightCandidate {
        let ineligibility: SkipReason? = w.keptBecause.map { .formatRule($0) } ?? (w.consumerTypes.isEmpty ? .noConsumer : nil)
        return WeightCandidate(name: w.name, shape: w.shape, type: w.scalarType, opType: w.consumerTypes.first,
                               outputAxis: w.outputAxis, ineligibility: ineligibility, convolutionGroups: w.convolutionGroups)
    }

    func preflight(_ bytes: UnsafeRawBufferPointer) throws {
        let model = try Self.open(bytes)
        let compressor = compressor
        for w in model.weights {
            do { try compressor.preflight(Self.candidate(w)) } catch { throw Problem(error) }
        }
    }

    func compress(_ bytes: UnsafeRawBufferPointer, to output: (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> CompressionOutcome {
        let opening = ContinuousClock.now
        let model = try Self.open(bytes)
        let started = ContinuousClock.now
        let compressor = compressor
        let weights = model.weights
        var doneElements = 0
        let totalElements = Double(max(1, weights.reduce(0) { $0 + $1.elementCount }))
        let compressed = try ParallelWeights.map(sizes: weights.map(\.elementCount), isCancelled: isCancelled, finished: { index in
            doneElements += weights[index].elementCount
            progress(0.8 * Double(doneElements) / totalElements)
        }) { index in
            let candidate = Self.candidate(weights[index])
            return try compressor.skip(candidate) ?? model.withBytes(of: weights[index]) { try compressor.compress(candidate, $0) }
        }
        let encodeSeconds = CompressionOutcome.seconds(ContinuousClock.now - started)

        var rewrite = ONNXRewrite(model)
        var tensors: [CompressionReport.Tensor] = []
        for w in compressed {
            if isCancelled() { throw CancellationError() }
            let stored: Int
            do {
                stored = try Self.replace(w, in: &rewrite)
            } catch {
                throw Problem.invalidConfig(error.description, field: "config")
            }
            tensors.append(.init(w, bytesAfter: stored))
        }
        var activationSummary: ActivationQuantizationSummary?
        if let activations {
            do { activationSummary = try rewrite.quantizeActivations(activations.config, ranges: activations.ranges) } catch {
                throw Problem.invalidModel(error.description)
            }
        }
        var written = 0
        let kind = try rewrite.write { piece in
            written += piece.count
            try output(piece)
        }
        progress(1)
        return CompressionOutcome(tensors: tensors, warnings: compressed.flatMap(\.warnings), artifactBytes: written,
                                  readSeconds: CompressionOutcome.seconds(started - opening), encodeSeconds: encodeSeconds,
                                  forms: compressed.map(\.form), artifactExtension: kind == .zip ? ".onnx.zip" : ".onnx",
                                  activationQuantization: activationSummary)
    }

    /// Puts the weight's form into the graph; returns the bytes its new tensors hold.
    static func replace(_ w: CompressedWeight, in rewrite: inout ONNXRewrite) throws(ONNXError) -> Int {
        let name = w.candidate.name
        let replacement: ONNXDequantization
        switch w.form {
        case .unchanged:
            return w.candidate.byteCount
        case .linear(let q):
            replacement = try .linear(q, weight: name)
        case .palettized(let p, let lut):
            if let lut {
                replacement = try .palettized(p, quantizedLUT: lut, weight: name)
            } else {
                replacement = .palettized(p, weight: name)
            }
        case .pruned(let p, _):
            replacement = .pruned(p, weight: name)
        case .prunedLinear(let q, _):
            replacement = try .prunedLinear(q, weight: name)
        case .prunedPalettized(let pruned, let p, _):
            replacement = try .prunedPalettized(pruned, p, weight: name)
        case .matMulNBits(let result, let bits, let blockSize, _):
            let node = try ONNXMatMulNBits(result, bits: bits, blockSize: blockSize, weight: name, scaleType: w.candidate.type)
            try rewrite.replaceMatMuls(reading: name, with: node)
            return node.initializers.reduce(0) { $0 + $1.bytes.count }
        }
        try rewrite.replace(weight: name, with: replacement)
        return replacement.byteCount
    }
}
