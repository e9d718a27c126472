import Testing
@testable import QuantCore

@Suite struct DTypeArithmeticTests {
    @Test func float16RoundingMatchesTheConverter() {
        var generator = SplitMix64(seed: 11)
        var samples: [Float] = [0, -0.0, 0x1p-14, 0x1p-25, 0x1.8p-24, 65504, 65519.9, 65520, -70000, .infinity, 1.00048828125]
        for _ in 0..<20_000 {
            samples.append(Float(bitPattern: UInt32.random(in: 0x2000_0000...0x4800_0000, using: &generator))
                           * (Bool.random(using: &generator) ? 1 : -1))
        }
        for value in samples {
            let expected = FloatConversion.float(float16Bits: FloatConversion.float16Bits(value))
            #expect(Float16Rounding.rounded(value).bitPattern == expected.bitPattern, "\(value)")
        }
    }

    @Test func doublesRoundOnceToFloat16() {
        // 1 + 2^-11 + 2^-40 is just above a float16 tie; via Float it would land on the tie
        // and round to even (1), directly it rounds up.
        let value = 1 + 0x1p-11 + 0x1p-40
        #expect(DTypeArithmetic.float16.rounded(value) == 1.0009765625)
        #expect(DTypeArithmetic.float16.rounded(2999.0) == 3000)
        #expect(DTypeArithmetic.float16.rounded(65520.0) == .infinity)
        #expect(DTypeArithmetic.float16.rounded(1e-12) == 0)
    }

    @Test func coremltoolsDTypes() {
        #expect(DTypeArithmetic(.float16) == .float16)
        #expect(DTypeArithmetic(.bfloat16) == .float32)
        #expect(DTypeArithmetic(.float64) == .float32)
    }
}
