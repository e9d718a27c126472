import Testing
@testable import QuantCore

@Suite struct UniformPaletteTests {
    @Test func float32LutAndIndicesByHand() {
        // min −1, max 2, 2 bits: scale 1, LUT [−1, 0, 1, 2]; (w + 1)/3·3 rounded half to even.
        let palette = UniformPalette(minimum: -1, maximum: 2, nbits: 2, type: .float32)
        #expect(palette.lut == [-1, 0, 1, 2])
        #expect([-1, -0.5, 0.5, 1.5, 2].map(palette.index(of:)) == [0, 0, 2, 2, 3])
    }

    @Test func float16StepsRoundToFloat16() {
        // (0.1 − 0) / 1 · 15 = 1.5 in float16 steps (0.1 → 0.0999755859375, times 15 = 1.49963…
        // rounds to 1.5 in float16), so round half to even gives 2; float32 arithmetic gives 1.
        let tenth = FloatConversion.rounded(Float(0.1), to: .float16)
        let palette = UniformPalette(minimum: 0, maximum: 1, nbits: 4, type: .float16)
        #expect(palette.index(of: tenth) == 2)
        #expect((tenth * 15).rounded(.toNearestOrEven) == 1)
        #expect(palette.lut[1] == FloatConversion.rounded(Double(FloatConversion.rounded(Float(1) / 15, to: .float16)), to: .float16))
    }

    @Test func constantGroupMapsToZero() {
        let palette = UniformPalette(minimum: 0.3, maximum: 0.3, nbits: 3, type: .float32)
        #expect(palette.index(of: 0.3) == 0)
        #expect(palette.lut == [Float](repeating: 0.3, count: 8))
    }
}
