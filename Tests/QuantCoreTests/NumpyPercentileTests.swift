import Testing
@testable import QuantCore

@Suite struct NumpyPercentileTests {
    // Values from numpy 2.2: np.percentile((np.arange(3000) / 8).astype(dtype), 30.000000000000004).
    @Test func float16IndexArithmeticRoundsToFloat16() {
        // (3000 − 1) and 0.3 round to 3000 and 0.30005 in float16; their product to 900.
        let plan = NumpyPercentile(count: 3000, percent: 0.3 * 100, arithmetic: .float16)
        #expect(plan.lowerRank == 900 && plan.upperRank == 901 && plan.gamma == 0)
        #expect(plan.value(lower: 112.5, upper: 112.625) == 112.5)
    }

    @Test func float32InterpolatesFromTheNearerEnd() {
        let plan = NumpyPercentile(count: 3000, percent: 0.3 * 100, arithmetic: .float32)
        #expect(plan.lowerRank == 899 && plan.upperRank == 900)
        #expect(plan.value(lower: 112.375, upper: 112.5) == 112.4625)
    }

    @Test func endsReadTheExtremes() {
        let top = NumpyPercentile(count: 10, percent: 100, arithmetic: .float32)
        #expect(top.lowerRank == 9 && top.upperRank == 9)
        let bottom = NumpyPercentile(count: 10, percent: 0, arithmetic: .float32)
        #expect(bottom.lowerRank == 0 && bottom.value(lower: 1, upper: 2) == 1)
    }

    @Test func float16IndexOverflowGivesNaN() {
        // What coremltools meets for float16 tensors of more than 65520 elements.
        let plan = NumpyPercentile(count: 70_000, percent: 50, arithmetic: .float16)
        #expect(plan.value(lower: 1, upper: 1).isNaN)
    }
}
