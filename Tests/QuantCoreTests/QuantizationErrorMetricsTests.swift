import Foundation
import Testing
@testable import QuantCore

@Suite struct QuantizationErrorMetricsTests {
    private func metrics(_ original: [Float], _ tensor: LinearQuantizedTensor) -> QuantizationErrorMetrics {
        original.withUnsafeBytes { QuantizationErrorMetrics(original: $0, type: .float32, quantized: tensor) }
    }

    private func tensor(_ config: LinearQuantizationConfig, shape: [Int], codes: [Int], scales: [Float],
                        zeroPoints: [UInt8]? = nil) -> LinearQuantizedTensor {
        LinearQuantizedTensor(config: config, shape: shape, codes: codes.map { UInt8(truncatingIfNeeded: $0) },
                              scales: scales, scaleShape: [scales.count, 1], scaleType: .float32, zeroPoints: zeroPoints)
    }

    @Test func exactReconstructionHasInfiniteSQNR() {
        let result = metrics([3, 4], tensor(.init(), shape: [1, 2], codes: [3, 4], scales: [1]))
        #expect(result.sqnrDB == .infinity)
        #expect(result.maxAbsError == 0)
        #expect(result.cosine == 1)
    }

    @Test func knownErrorGivesKnownNumbers() {
        // ŵ = [1, 1] for w = [1, 0]: equal signal and noise energy, so 0 dB; cosine 1/√2.
        let result = metrics([1, 0], tensor(.init(), shape: [1, 2], codes: [1, 1], scales: [1]))
        #expect(result.sqnrDB == 0)
        #expect(result.maxAbsError == 1)
        #expect(abs(result.cosine - 0.5.squareRoot()) < 1e-12)
    }

    @Test func zeroPointsAndPerChannelScalesAreApplied() {
        // Row 0: ŵ = (128 − 127)·0.5, (126 − 127)·0.5 = [0.5, −0.5]; row 1: ŵ = (130 − 127)·2 = [6, 6].
        let config = LinearQuantizationConfig(dtype: .uint8)
        let quantized = tensor(config, shape: [2, 2], codes: [128, 126, 130, 130], scales: [0.5, 2], zeroPoints: [127, 127])
        let result = metrics([0.5, -0.25, 6, 6], quantized)
        // Σw² = 72.3125, Σe² = 0.0625.
        #expect(abs(result.sqnrDB - 10 * log10(72.3125 / 0.0625)) < 1e-9)
        #expect(result.maxAbsError == 0.25)
        let cosine = (0.25 + 0.125 + 72) / (72.3125.squareRoot() * 72.5.squareRoot())
        #expect(abs(result.cosine - cosine) < 1e-12)
    }

    @Test func matchesANaiveComputationOnARealQuantization() throws {
        var generator = SplitMix64(seed: 9)
        let shape = [128, 96]
        let weights = (0..<shape.reduce(1, *)).map { _ in Float(generator.normal()) * 0.1 }
        let config = LinearQuantizationConfig(mode: .linear, dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(32))
        let quantized = try weights.withUnsafeBufferPointer { try LinearQuantizer(config).quantize($0, shape: shape) }
        var signal = 0.0, noise = 0.0, dot = 0.0, restoredEnergy = 0.0, worst = 0.0
        for (index, weight) in weights.enumerated() {
            let block = index / 32
            let restored = Double(quantized.integer(quantized.codes[index]) - quantized.integer(quantized.zeroPoints![block]))
                * Double(quantized.scales[block])
            signal += Double(weight) * Double(weight)
            noise += (Double(weight) - restored) * (Double(weight) - restored)
            dot += Double(weight) * restored
            restoredEnergy += restored * restored
            worst = max(worst, abs(Double(weight) - restored))
        }
        let result = metrics(weights, quantized)
        // The kernel sums runs of ≤ 1024 elements in Float lanes: agreement to ~1e-7 relative.
        #expect(abs(result.sqnrDB - 10 * log10(signal / noise)) < 1e-5)
        #expect(abs(result.maxAbsError - worst) <= worst * 1e-6)
        #expect(abs(result.cosine - dot / (signal * restoredEnergy).squareRoot()) < 1e-7)
    }

    @Test func countsEachZeroOnceInRunsThatAreNotMultiplesOfEight() {
        // Rows of 11: eight through the lanes, three in the scalar tail. Row 0 has two zero
        // codes in the tail and one in the lanes, row 1 none.
        let codes = [1, 2, 0, 3, 4, 5, 6, 7, 0, 0, 9] + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        let quantized = tensor(.init(), shape: [2, 11], codes: codes, scales: [1, 1])
        let result = metrics(codes.map(Float.init), quantized)
        #expect(result.sparsity == 3.0 / 22)
    }

    @Test func allZeroWeightsAreAPerfectMatch() throws {
        let weights = [Float](repeating: 0, count: 64)
        let quantized = try weights.withUnsafeBufferPointer { try LinearQuantizer().quantize($0, shape: [8, 8]) }
        let result = metrics(weights, quantized)
        #expect(result.sqnrDB == .infinity)
        #expect(result.cosine == 1)
    }
}

@Suite struct DenseErrorMetricsTests {
    @Test func matchesHandComputedValues() throws {
        let original: [Float] = [1, -2, 3, 0]
        let reconstructed: [Float] = [1, -2, 2, 0]
        let metrics = original.withUnsafeBytes { o in
            reconstructed.withUnsafeBufferPointer { QuantizationErrorMetrics(original: o, type: .float32, reconstructed: $0) }
        }
        // signal 14, noise 1 → 10·log10(14); dot 11, |r|² 9 → 11 / sqrt(14·9)
        #expect(abs(metrics.sqnrDB - 10 * log10(14.0)) < 1e-9)
        #expect(metrics.maxAbsError == 1)
        #expect(abs(metrics.cosine - 11 / (14.0 * 9).squareRoot()) < 1e-12)
    }

    @Test func exactReconstructionIsInfinite() {
        let values: [Float] = (0..<100_000).map { Float($0 % 17) - 8 }
        let metrics = values.withUnsafeBytes { o in
            values.withUnsafeBufferPointer { QuantizationErrorMetrics(original: o, type: .float32, reconstructed: $0) }
        }
        #expect(metrics.sqnrDB == .infinity)
        #expect(metrics.maxAbsError == 0)
        #expect(abs(metrics.cosine - 1) < 1e-12)
    }
}

@Suite struct MaskedErrorMetricsTests {
    /// The mask-based measurement equals the dense one on the pruned reconstruction.
    @Test func matchesTheDenseComparison() throws {
        var state: UInt64 = 5
        let weights: [Float] = (0..<(61 * 83)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        let pruned = try #require(try weights.withUnsafeBytes { bytes in
            try Pruner(.magnitude(targetSparsity: 0.6)).prune(bytes, type: .float32, shape: [61, 83])
        })
        let masked = weights.withUnsafeBytes { QuantizationErrorMetrics(original: $0, type: .float32, pruned: pruned) }
        let dense = pruned.dequantized()
        let reference = weights.withUnsafeBytes { o in
            dense.withUnsafeBufferPointer { QuantizationErrorMetrics(original: o, type: .float32, reconstructed: $0) }
        }
        #expect(abs(masked.sqnrDB - reference.sqnrDB) < 1e-9)
        #expect(masked.maxAbsError == reference.maxAbsError)
        #expect(abs(masked.cosine - reference.cosine) < 1e-12)
        #expect(abs(masked.sparsity - pruned.sparsity) < 1e-12)
    }
}
