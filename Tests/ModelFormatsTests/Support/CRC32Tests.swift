import CCRC32
import CZlib
import Testing
@testable import ModelFormats

@Suite struct CRC32Tests {
    @Test func matchesTheStandardCheckValue() {
        // The CRC-32 catalogue's check value for "123456789".
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32.checksum($0) } == 0xCBF4_3926)
        #expect(CRC32.checksum(UnsafeRawBufferPointer(start: nil, count: 0)) == 0)
    }

    @Test func piecesGiveTheSameValueAsTheWhole() {
        let bytes = Array("123456789".utf8)
        var crc = CRC32()
        bytes.withUnsafeBytes { crc.update(UnsafeRawBufferPointer(rebasing: $0[..<4])); crc.update(UnsafeRawBufferPointer(rebasing: $0[4...])) }
        #expect(crc.value == 0xCBF4_3926)
    }

    /// Combining the CRCs of two pieces gives the CRC of both, at every split of a buffer,
    /// including empty pieces on either side.
    @Test func combiningPiecesGivesTheValueOfTheWhole() {
        var rng = SplitMix64(seed: 7)
        let bytes = (0..<777).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        bytes.withUnsafeBytes { all in
            let whole = CRC32.checksum(all)
            for split in [0, 1, 63, 64, 65, 400, 776, 777] {
                let a = CRC32.checksum(UnsafeRawBufferPointer(rebasing: all[..<split]))
                let b = CRC32.checksum(UnsafeRawBufferPointer(rebasing: all[split...]))
                #expect(CRC32.combine(a, b, secondLength: all.count - split) == whole, "split at \(split)")
            }
        }
    }

    /// The folded path (64-byte groups, then 16-byte lanes, then a table tail) against zlib at
    /// every length and alignment that exercises each step and the seams between them.
    @Test func foldedAndPortablePathsAgreeWithZlibAtEveryLengthAndAlignment() {
        var rng = SplitMix64(seed: 32)
        let bytes = (0..<4200).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        bytes.withUnsafeBytes { all in
            for offset in 0..<3 {
                for count in Array(0...300) + [1023, 1024, 1025, 4096, 4197 - offset] {
                    let piece = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)])
                    let expected = UInt32(crc32(0x1234_5678, piece.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(count)))
                    #expect(ccrc32_update(0x1234_5678, piece.baseAddress, count) == expected, "length \(count), offset \(offset)")
                    #expect(ccrc32_update_portable(0x1234_5678, piece.baseAddress, count) == expected, "length \(count), offset \(offset)")
                }
            }
        }
    }
}
