import Testing
@testable import Execution

@Suite struct RangeAccumulatorTests {
    private func add(_ values: [Float], to accumulator: inout RangeAccumulator) {
        values.withUnsafeBufferPointer { accumulator.add($0) }
    }

    @Test func minAndMaxAreOverEveryBatchNotTheLast() {
        var accumulator = RangeAccumulator(histogram: false)
        add([-1, 2, 0.5], to: &accumulator)
        add([0.1, 0.2], to: &accumulator)
        add([-0.3, 5], to: &accumulator)
        #expect(accumulator.range(.minMax) == TensorRange(min: -1, max: 5))
    }

    @Test func notANumberIsIgnoredAndAnEmptyTensorLeavesNoRange() {
        var accumulator = RangeAccumulator(histogram: true)
        add([], to: &accumulator)
        #expect(!accumulator.hasValues)
        add([.nan, 3, -2, .nan], to: &accumulator)
        #expect(accumulator.range(.minMax) == TensorRange(min: -2, max: 3))
        #expect(accumulator.range(.percentile(100)) == TensorRange(min: -2, max: 3))
    }

    @Test func percentileDropsTheOutliersThatStretchMinMax() {
        var accumulator = RangeAccumulator(histogram: true)
        // 10,000 values in [-1, 1) and two outliers at ±100.
        let values = (0..<10_000).map { Float($0) / 5_000 - 1 } + [100, -100]
        add(values, to: &accumulator)
        let range = accumulator.range(.percentile(99.9))
        #expect(accumulator.range(.minMax) == TensorRange(min: -100, max: 100))
        // The 99.9th percentile of |x| lies just under 1; the bin holding it ends within a bin
        // width (200/2048) of it.
        #expect(range.max >= 0.99 && range.max <= 1 + 200 / 2048)
        #expect(range.min == -range.max)
    }

    @Test func theHistogramGrowsWhenALaterBatchGoesFurther() {
        var accumulator = RangeAccumulator(histogram: true)
        add([Float](repeating: 0.5, count: 100), to: &accumulator)
        add([Float](repeating: 50, count: 900), to: &accumulator)
        // 90% of the values sit at 50: the 95th percentile must reach them.
        let range = accumulator.range(.percentile(95))
        #expect(range.max >= 50 * 0.99 && range.max <= 50)
        #expect(range.min == 0.5)
    }
}
