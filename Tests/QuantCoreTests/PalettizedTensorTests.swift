import Testing
@testable import QuantCore

private func palettize(_ values: [Float], shape: [Int], _ config: PalettizationConfig) throws -> PalettizedTensor {
    try values.withUnsafeBytes { try Palettizer(config).palettize($0, type: .float32, shape: shape) }
}

@Suite struct PalettizedTensorTests {
    @Test func dequantizedLooksUpEachIndexInItsGroupsLut() throws {
        let values: [Float] = [1, 3, 1, 3, 10, 30, 30, 10]
        let tensor = try palettize(values, shape: [4, 2], .init(nbits: 1, granularity: .perGroupedChannel, groupSize: 2))
        #expect(tensor.lut == [1, 3, 10, 30])
        #expect(tensor.indices == [0, 1, 0, 1, 0, 1, 1, 0])
        #expect(tensor.dequantized() == values)
        #expect(tensor.perChannelScale == nil && tensor.perChannelScaleShape == nil)
    }

    @Test func scaledProductsRoundToTheLutType() throws {
        // 3 · (1/3 in float16) is 1.0004883 in float32 but 1 in float16.
        let third = FloatConversion.rounded(Float(1) / 3, to: .float16)
        // A column (third, 3): scale 3, normalized (1/3 → 0.111…, 1), products rounded back.
        let bits = [third, 3].map(FloatConversion.float16Bits)
        let tensor = try bits.withUnsafeBytes {
            try Palettizer(.init(mode: .unique, enablePerChannelScale: true)).palettize($0, type: .float16, shape: [2, 1])
        }
        #expect(tensor.perChannelScale == [3])
        let normalized = FloatConversion.rounded(third / 3, to: .float16)
        #expect(tensor.dequantized() == [FloatConversion.rounded(normalized * 3, to: .float16), 3])
    }

    @Test func lutQuantizationIsOnePerTensorBlock() throws {
        var random = SplitMix64(seed: 6)
        let values = (0..<(64 * 32)).map { _ in Float(random.normal()) }
        let tensor = try palettize(values, shape: [64, 32], .init(nbits: 4, granularity: .perGroupedChannel, groupSize: 4))
        #expect(tensor.lut.count == 16 * 16)
        let config = LinearQuantizationConfig(mode: .linearSymmetric, dtype: .int8, granularity: .perTensor, weightThreshold: 100)
        let quantized = try #require(try tensor.quantizingLUT(with: config))
        #expect(quantized.shape == [16, 16, 1])
        #expect(quantized.scales.count == 1)
        #expect(quantized.scaleShape == [1, 1, 1])
        #expect(quantized.scales[0] == tensor.lut.map(abs).max()! * 2 / 254)
        // coremltools leaves LUTs at or below the threshold in float, and refuses other granularities.
        #expect(try tensor.quantizingLUT(with: .init(granularity: .perTensor)) == nil)
        #expect(throws: QuantCoreError.lutQuantizationNeedsPerTensor) {
            try tensor.quantizingLUT(with: .init(granularity: .perChannel, weightThreshold: 0))
        }
    }
}
