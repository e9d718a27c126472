import Testing
@testable import QuantCore

private struct EveryThird: KeepRule {
    func isKept(_ index: Int) -> Bool { index % 3 == 0 }
}

@Suite struct MaskCompactionTests {
    @Test func packsLeastSignificantBitFirst() {
        let mask = MaskCompaction.mask(count: 10, rule: EveryThird())
        // Elements 0, 3, 6 in the first byte, 9 as bit 1 of the second.
        #expect(mask.bytes == [0b0100_1001, 0b10])
        #expect(mask.nonZeroCount == 4)
    }

    @Test(arguments: [1, 2, 4, 8])
    func gathersKeptElementsInOrderAcrossChunks(width: Int) {
        let count = 1_000_003
        let bytes = (0..<(count * width)).map { UInt8(truncatingIfNeeded: $0 / width &* 31 &+ $0 % width) }
        let mask = MaskCompaction.mask(count: count, rule: EveryThird())
        let values = bytes.withUnsafeBytes { MaskCompaction.gather($0, width: width, mask: mask) }
        let expected = stride(from: 0, to: count, by: 3).flatMap { bytes[($0 * width)..<($0 * width + width)] }
        #expect(values == expected)
    }
}
