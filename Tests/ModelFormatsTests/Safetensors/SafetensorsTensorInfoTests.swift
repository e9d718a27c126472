import Testing
import QuantCore
@testable import ModelFormats

@Suite struct SafetensorsTensorInfoTests {
    @Test(arguments: [
        ([], ScalarType.float16, Optional(2)),
        ([0], .float16, 0),
        ([3, 4], .float16, 24),
        ([1 << 40, 1 << 40], .uint8, nil),
        ([1 << 62], .float32, nil),
        // Elements first, then width, as the reference does: the zero rescues this shape…
        ([1 << 62, 0], .float32, 0),
        // …but not once the running element count has already overflowed.
        ([1 << 62, 1 << 62, 0], .uint8, nil),
    ] as [([Int], ScalarType, Int?)])
    func byteCountMultipliesElementsThenWidthWithOverflowChecks(shape: [Int], dtype: ScalarType, expected: Int?) {
        #expect(SafetensorsTensorInfo.byteCount(shape: shape, dtype: dtype) == expected)
    }

    @Test func derivedCounts() {
        let info = SafetensorsTensorInfo(name: "w", dtype: .bfloat16, shape: [2, 3], dataRange: 10..<22)
        #expect(info.elementCount == 6)
        #expect(info.byteCount == 12)
    }
}
