import Testing
@testable import QuantCore

@Suite struct FloatConversionRoundingTests {
    @Test func doubleRoundsOnceToFloat16() {
        // 1 + 2^-11 is a float16 tie; just above it must round up, but going through Float
        // first lands exactly on the tie and then rounds to even (down).
        let justAbove = 1 + 0x1p-11 + 0x1p-40
        #expect(Float(justAbove) == 1 + 0x1p-11)
        #expect(FloatConversion.rounded(justAbove, to: .float16) == 1 + 0x1p-10)
        #expect(FloatConversion.rounded(-justAbove, to: .float16) == -(1 + 0x1p-10))
        #expect(FloatConversion.rounded(1 + 0x1p-11, to: .float16) == 1)
        #expect(FloatConversion.rounded(0.1, to: .float32) == Float(0.1))
    }

    @Test func doubleRoundsOnceToBFloat16() {
        let justBelow = 1 + 0x1p-8 - 0x1p-40
        #expect(FloatConversion.rounded(justBelow, to: .bfloat16) == 1)
        #expect(FloatConversion.rounded(1 + 0x1p-8 + 0x1p-40, to: .bfloat16) == 1 + 0x1p-7)
    }

    @Test func floatRoundsToType() {
        #expect(FloatConversion.rounded(Float(0.1), to: .float16) == FloatConversion.float(float16Bits: FloatConversion.float16Bits(0.1)))
        #expect(FloatConversion.float(bits: 0x3C00, of: .float16) == 1)
        #expect(FloatConversion.float(bits: 0x3F80, of: .bfloat16) == 1)
    }
}
