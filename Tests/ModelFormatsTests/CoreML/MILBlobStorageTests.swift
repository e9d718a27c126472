import Testing
import QuantCore
@testable import ModelFormats

private func parseBlobs(_ bytes: [UInt8]) throws -> MILBlobStorage {
    try bytes.withUnsafeBytes { try MILBlobStorage(parsing: $0) }
}

@Suite struct MILBlobStorageTests {
    @Test func dataTypeCodesMatchCoreMLTools() {
        // mlmodel/src/MILBlob/Blob/BlobDataType.hpp
        #expect(MILBlobDataType.allCases.map(\.rawValue) == Array(1...17))
        #expect([MILBlobDataType.uint1, .uint2, .uint3, .int4, .uint4, .uint6].allSatisfy { $0.isSubByte })
    }

    @Test func writerLaysOutBlobsAsCoreMLToolsDoes() throws {
        var writer = MILBlobStorageWriter()
        let first = [UInt8](repeating: 0xAB, count: 10).withUnsafeBytes { writer.append(.int8, data: $0) }
        let second = writer.appendPacked(.uint3, codes: [1, 2, 3, 4, 5])
        #expect(first == 64)
        #expect(second == 192)  // 64 + 64 metadata + 10 data = 138, aligned up
        let bytes = writer.bytes
        #expect(Array(bytes[0..<8]) == [2, 0, 0, 0, 2, 0, 0, 0])
        #expect(Array(bytes[64..<72]) == [0xEF, 0xBE, 0xAD, 0xDE, 4, 0, 0, 0])
        #expect(bytes.count == 256 + 2)  // no padding after the last blob
        let storage = try parseBlobs(bytes)
        #expect(storage.blobs == writer.blobs)
        let packed = storage.blob(atMetadataOffset: 192)!
        #expect(packed.paddingBits == 1 && packed.elementCount == 5)
        #expect(bytes.withUnsafeBytes { BitPacking.unpack(UnsafeRawBufferPointer(rebasing: $0[packed.dataRange]), count: 5, bits: 3) } == [1, 2, 3, 4, 5])
        #expect(storage.blob(atMetadataOffset: 128) == nil)
    }

    @Test func emptyStorageIsJustAHeader() throws {
        #expect(try parseBlobs(MILBlobStorageWriter().bytes).blobs.isEmpty)
    }

    private func oneBlob() -> [UInt8] {
        var writer = MILBlobStorageWriter()
        [UInt8](repeating: 1, count: 8).withUnsafeBytes { _ = writer.append(.float16, data: $0) }
        return writer.bytes
    }

    private func patched(_ offset: Int, _ value: some FixedWidthInteger) -> [UInt8] {
        var bytes = oneBlob()
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        return bytes
    }

    @Test func rejectsHostileFiles() {
        #expect(throws: MILBlobStorageError.fileTooSmall(byteCount: 10)) { try parseBlobs(Array(repeating: 0, count: 10)) }
        #expect(throws: MILBlobStorageError.unsupportedVersion(1)) { try parseBlobs(patched(4, UInt32(1))) }
        #expect(throws: MILBlobStorageError.countMismatch(declared: 2, found: 1)) { try parseBlobs(patched(0, UInt32(2))) }
        #expect(throws: MILBlobStorageError.badSentinel(offset: 64, found: 0xDEAD_BEEE)) { try parseBlobs(patched(64, UInt32(0xDEAD_BEEE))) }
        #expect(throws: MILBlobStorageError.unknownDataType(offset: 64, code: 99)) { try parseBlobs(patched(68, UInt32(99))) }
        #expect(throws: MILBlobStorageError.dataOutsideFile(offset: 64, dataOffset: 128, byteCount: 1 << 40, fileSize: 136)) {
            try parseBlobs(patched(72, UInt64(1) << 40))
        }
        #expect(throws: MILBlobStorageError.dataOutsideFile(offset: 64, dataOffset: UInt64.max - 63, byteCount: 8, fileSize: 136)) {
            try parseBlobs(patched(80, UInt64.max - 63))
        }
        #expect(throws: MILBlobStorageError.misalignedData(offset: 64, dataOffset: 130)) { try parseBlobs(patched(80, UInt64(130))) }
        #expect(throws: MILBlobStorageError.sizeNotMultipleOfElement(offset: 64, dataType: .float16, byteCount: 7)) {
            try parseBlobs(patched(72, UInt64(7)))
        }
        #expect(throws: MILBlobStorageError.metadataOutsideFile(offset: 128, fileSize: 136)) {
            try oneBlob().withUnsafeBytes { try MILBlobStorage.blob(at: 128, in: $0) }
        }
        #expect(throws: MILBlobStorageError.misalignedMetadata(offset: 65)) {
            try oneBlob().withUnsafeBytes { try MILBlobStorage.blob(at: 65, in: $0) }
        }
        var subByte = MILBlobStorageWriter()
        subByte.appendPacked(.uint4, codes: [1, 2, 3])
        var bytes = subByte.bytes
        bytes[88] = 3  // 3 padding bits cannot leave whole 4-bit elements in 2 bytes
        #expect(throws: MILBlobStorageError.inconsistentPadding(offset: 64, dataType: .uint4, byteCount: 2, paddingBits: 3)) {
            try parseBlobs(bytes)
        }
    }

    @Test func ignoresThePaddingFieldOfWholeByteTypes() throws {
        // Before iOS 18 the field was uninitialized reserved space.
        #expect(try parseBlobs(patched(88, UInt64(0xDEAD))).blobs[0].paddingBits == 0)
    }
}
