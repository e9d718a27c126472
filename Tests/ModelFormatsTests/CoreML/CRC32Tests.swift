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
}
