import Testing
@testable import QuantCore

@Suite struct BitPackingTests {
    @Test func fourBitCodesPackLowNibbleFirst() {
        #expect(BitPacking.pack([0x1, 0x2, 0x3], bits: 4) == [0x21, 0x03])
    }

    @Test func oneBitMaskPacksLSBFirst() {
        #expect(BitPacking.pack([1, 0, 1, 1, 0, 0, 0, 0, 1], bits: 1) == [0b0000_1101, 0b1])
    }

    @Test func threeBitCodesStraddleBytes() {
        // 5 = 101, 6 = 110, 7 = 111 → bits 0-2: 101, 3-5: 110, 6-8: 111 (LSB first)
        #expect(BitPacking.pack([5, 6, 7], bits: 3) == [0b1111_0101, 0b1])
    }

    @Test(arguments: [1, 2, 3, 4, 6, 8])
    func roundTrips(bits: Int) {
        var state: UInt32 = 7
        let codes = (0..<1001).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24) & UInt8((1 << bits) - 1)
        }
        let packed = BitPacking.pack(codes, bits: bits)
        #expect(packed.count == BitPacking.packedByteCount(count: codes.count, bits: bits))
        #expect(packed.withUnsafeBytes { BitPacking.unpack($0, count: codes.count, bits: bits) } == codes)
    }
}
