import Testing
@testable import QuantCore

@Suite struct SparseLinearQuantizedTensorTests {
    @Test func codesOfKeptElementsComeFromTheDensePrunedTensor() throws {
        // coremltools quantizes the dense pruned tensor; its ranges always include 0, so the
        // pruned zeros leave row 0's range at [0, 0.5] as the kept values alone would.
        let weights: [Float] = [0.5, 0.1, 0.05, 0.25, 0.3, 0.02, 0.01, 0.4,
                                1, -2, 3, -4, 5, -6, 7, -8]
        let pruning = try PruningConfig.magnitude(nmRatio: (2, 4), weightThreshold: 0)
        let pruned = try #require(try weights.withUnsafeBytes { try Pruner(pruning).prune($0, type: .float32, shape: [2, 8]) })
        let quantizer = LinearQuantizer(LinearQuantizationConfig(mode: .linear, dtype: .uint8))
        let sparse = try quantizer.quantize(pruned)
        let dense = try pruned.dequantized().withUnsafeBufferPointer { try quantizer.quantize($0, shape: [2, 8]) }
        #expect(sparse.mask == pruned.mask && sparse.nonZeroCount == 8)
        #expect(sparse.codes == (0..<16).filter(pruned.isKept).map { dense.codes[$0] })
        #expect(sparse.scales == dense.scales && sparse.zeroPoints == dense.zeroPoints)
        #expect(sparse.scales[0] == Float(0.5) / 255)
    }

    @Test func aChannelPrunedAwayIsAnAllZeroBlock() throws {
        // Block pruning along dim 1 drops row 0 entirely; per-channel quantization then sees an
        // all-zero channel, which coremltools gives scale 0 and quantd scale 1 (see LinearQuantizer).
        let weights: [Float] = [0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1,
                                1, -2, 3, -4, 5, -6, 7, -8]
        let pruning = try PruningConfig.magnitude(targetSparsity: 0.5, blockSize: 4, dim: 1, weightThreshold: 0)
        let pruned = try #require(try weights.withUnsafeBytes { try Pruner(pruning).prune($0, type: .float32, shape: [2, 8]) })
        let sparse = try LinearQuantizer().quantize(pruned)
        #expect(sparse.nonZeroCount == 8 && sparse.scales[0] == 1)
        #expect(sparse.codes.map { Int8(bitPattern: $0) } == [16, -32, 48, -64, 79, -95, 111, -127])
    }

    @Test func refusesInfinityLikeDenseQuantization() throws {
        let values: [Float] = [.infinity, 1]
        let pruned = PrunedTensor(shape: [1, 2], type: .float32, mask: [0b11], nonZeroCount: 2,
                                  values: values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } })
        #expect(throws: QuantCoreError.nonFiniteWeight) { try LinearQuantizer().quantize(pruned) }
    }
}

@Suite struct SparseLinearDequantizationTests {
    /// Kept weights come back as their dense quantization's values, pruned ones as 0.
    @Test(arguments: [LinearQuantizationConfig(), LinearQuantizationConfig(mode: .linear, dtype: .uint8),
                      LinearQuantizationConfig(dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(16))])
    func matchesTheDenseQuantizationWhereKept(config: LinearQuantizationConfig) throws {
        var state: UInt64 = 3
        let values: [Float] = (0..<(48 * 64)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) + 0.2
        }
        let pruned = try #require(try values.withUnsafeBytes { try Pruner(.magnitude(targetSparsity: 0.5)).prune($0, type: .float32, shape: [48, 64]) })
        let sparse = try LinearQuantizer(config).quantize(pruned)
        let dense = try pruned.denseBytes().withUnsafeBytes { try LinearQuantizer(config).quantize($0, type: .float32, shape: [48, 64]) }
        let expected = dense.dequantized()
        let rebuilt = sparse.dequantized()
        for i in 0..<values.count {
            #expect(rebuilt[i] == (pruned.isKept(i) ? expected[i] : 0))
        }
    }
}
