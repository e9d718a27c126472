import Testing
@testable import QuantCore

@Suite struct DistinctValuesTests {
    @Test func sortsAndCountsFloats() {
        let values: [Float] = [2, -1, 2, 0.5, -1, 2]
        let distinct = values.withUnsafeBufferPointer { DistinctValues(floats: $0.baseAddress!, ranges: [0..<6]) }
        #expect(distinct.values == [-1, 0.5, 2])
        #expect(distinct.weights == [2, 1, 3])
    }

    @Test func negativeAndPositiveZeroAreOneValue() {
        let values: [Float] = [-0.0, 0, 1, -0.0]
        let distinct = values.withUnsafeBufferPointer { DistinctValues(floats: $0.baseAddress!, ranges: [0..<4]) }
        #expect(distinct.values == [0, 1])
        #expect(distinct.values[0].sign == .plus)
        #expect(distinct.weights == [3, 1])
    }

    @Test func onlyTheGivenRangesCount() {
        let values: [Float] = [9, 1, 1, 9, 2, 9]
        let distinct = values.withUnsafeBufferPointer { DistinctValues(floats: $0.baseAddress!, ranges: [1..<3, 4..<5]) }
        #expect(distinct.values == [1, 2])
        #expect(distinct.weights == [2, 1])
    }

    @Test func histogramAndSortingAgreeForHalves() {
        var random = SplitMix64(seed: 3)
        for type in [ScalarType.float16, .bfloat16] {
            let large = DistinctValues.histogramThreshold * 3
            let values = (0..<large).map { _ in Float(random.normal() * 0.1) }
            let bits = values.map { type == .float16 ? FloatConversion.float16Bits($0) : FloatConversion.bfloat16Bits($0) } + [0x8000]
            let floats = bits.map { FloatConversion.float(bits: $0, of: type) }
            let expected = floats.withUnsafeBufferPointer { DistinctValues(floats: $0.baseAddress!, ranges: [0..<bits.count]) }
            for parallel in [false, true] {
                let histogrammed = bits.withUnsafeBufferPointer {
                    DistinctValues(bits: $0.baseAddress!, ranges: [0..<bits.count], type: type, parallel: parallel)
                }
                #expect(histogrammed == expected)
            }
            let small = bits.withUnsafeBufferPointer {
                DistinctValues(bits: $0.baseAddress!, ranges: [0..<100, 200..<300], type: type, parallel: false)
            }
            let smallExpected = floats.withUnsafeBufferPointer { DistinctValues(floats: $0.baseAddress!, ranges: [0..<100, 200..<300]) }
            #expect(small == smallExpected)
        }
    }
}
