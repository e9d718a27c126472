import Testing
@testable import QuantCore

@Suite struct QuotientRoundingTests {
    @Test func float16RoundingMatchesConversionInTheRangeThatMatters() {
        var generator = SplitMix64(seed: 11)
        for _ in 0..<100_000 {
            let quotient = Float.random(in: -300...300, using: &generator)
            let expected = FloatConversion.float(float16Bits: FloatConversion.float16Bits(quotient))
            #expect(Float16Quotient.round(quotient) == expected, "\(quotient)")
        }
        // Binary16 spacing in [64, 128) is 1/16, and 115.5 = 1848/16 is the even neighbour:
        // both ties next to it go to it, a hair below the lower tie does not.
        #expect(Float16Quotient.round(115.46875) == 115.5)
        #expect(Float16Quotient.round(115.53125) == 115.5)
        #expect(Float16Quotient.round(115.46874) == 115.4375)
    }

    @Test func bfloat16RoundingMatchesConversionForAllFiniteFloats() {
        var generator = SplitMix64(seed: 12)
        for _ in 0..<100_000 {
            let quotient = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            guard quotient.isFinite else { continue }
            let expected = FloatConversion.float(bfloat16Bits: FloatConversion.bfloat16Bits(quotient))
            #expect(BFloat16Quotient.round(quotient).bitPattern == expected.bitPattern, "\(quotient)")
        }
    }
}
