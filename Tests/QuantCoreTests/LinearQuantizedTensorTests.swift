import Testing
@testable import QuantCore

@Suite struct LinearQuantizedTensorTests {
    private func tensor(_ dtype: LinearQuantizationConfig.DType, zeroPoints: [UInt8]?) -> LinearQuantizedTensor {
        LinearQuantizedTensor(config: .init(dtype: dtype), shape: [1, 2], codes: [0xFF, 0x01], scales: [1],
                              scaleShape: [1, 1], scaleType: .float32, zeroPoints: zeroPoints)
    }

    @Test func integersFollowTheDTypeSignedness() {
        #expect(tensor(.int8, zeroPoints: nil).integer(0xFF) == -1)
        #expect(tensor(.int4, zeroPoints: nil).integer(0xF9) == -7)
        #expect(tensor(.uint8, zeroPoints: nil).integer(0xFF) == 255)
    }

    @Test func reportsWhetherZeroPointsNeedStoring() {
        #expect(!tensor(.int8, zeroPoints: nil).hasNonZeroZeroPoints)
        #expect(!tensor(.int8, zeroPoints: [0]).hasNonZeroZeroPoints)
        #expect(tensor(.uint8, zeroPoints: [127]).hasNonZeroZeroPoints)
    }

    @Test func countsDistinctCodesWhetherOrNotEveryLevelOccurs() {
        // int4 symmetric has 15 levels; 12 of them occur, the last one only at the very end,
        // long after a scan could stop if it had seen every level.
        let sparse = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 % 11 - 5) } + [6]
        let full = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 % 15 - 7) }
        for (codes, expected) in [(sparse, 12), (full, 15)] {
            let t = LinearQuantizedTensor(config: .init(dtype: .int4), shape: [1, codes.count], codes: codes, scales: [1],
                                          scaleShape: [1, 1], scaleType: .float32, zeroPoints: nil)
            #expect(t.distinctCodes == expected)
        }
    }
}
