/// The blobs of a Core ML `weight.bin` (MIL blob storage version 2), every one validated.
/// A pure value parsed from the file's bytes.
///
/// Layout (coremltools `MILBlob/Blob/StorageFormat.hpp`): a 64-byte header, `count` (UInt32)
/// and `version` (UInt32, 2), then per blob a 64-byte metadata record at a 64-aligned offset
/// (`sentinel` 0xDEADBEEF, `mil_dtype` UInt32, `sizeInBytes` UInt64, `offset` UInt64 of the
/// data, `padding_size_in_bits` UInt64, reserved) followed by the data at the next 64-aligned
/// offset. Gaps are zero padding, and the file ends with the last blob's data.
public struct MILBlobStorage: Sendable {
    static let alignment: UInt64 = 64
    static let sentinel: UInt32 = 0xDEAD_BEEF

    /// In file order.
    public let blobs: [MILBlob]
    private let indexByMetadataOffset: [UInt64: Int]

    public init(parsing bytes: UnsafeRawBufferPointer) throws(MILBlobStorageError) {
        guard bytes.count >= Int(Self.alignment) else { throw .fileTooSmall(byteCount: bytes.count) }
        let count = bytes.littleEndian(UInt32.self, at: 0)!
        let version = bytes.littleEndian(UInt32.self, at: 4)!
        guard version == 2 else { throw .unsupportedVersion(version) }
        var blobs: [MILBlob] = []
        var offset = Self.alignment
        // The header's count is checked against the blobs found rather than trusted for a loop
        // bound or an allocation.
        while offset < UInt64(bytes.count) {
            let blob = try Self.blob(at: offset, in: bytes)
            if let previous = blobs.last, blob.metadataOffset < previous.dataOffset + previous.byteCount {
                throw .overlappingBlobs(offset: blob.metadataOffset, previousEnd: previous.dataOffset + previous.byteCount)
            }
            blobs.append(blob)
            offset = Self.aligned(blob.dataOffset + blob.byteCount)
        }
        guard blobs.count == Int(count) else { throw .countMismatch(declared: count, found: blobs.count) }
        self.blobs = blobs
        indexByMetadataOffset = Dictionary(uniqueKeysWithValues: blobs.enumerated().map { ($1.metadataOffset, $0) })
    }

    /// The blob a model's `BlobFileValue.offset` names, or nil when no blob starts there.
    public func blob(atMetadataOffset offset: UInt64) -> MILBlob? {
        indexByMetadataOffset[offset].map { blobs[$0] }
    }

    /// Reads and validates the metadata record at `offset` on its own, as the Core ML runtime
    /// does when a model refers to it.
    public static func blob(at offset: UInt64, in bytes: UnsafeRawBufferPointer) throws(MILBlobStorageError) -> MILBlob {
        guard offset % alignment == 0 else { throw .misalignedMetadata(offset: offset) }
        guard offset >= alignment, offset <= UInt64(bytes.count), UInt64(bytes.count) - offset >= alignment else {
            throw .metadataOutsideFile(offset: offset, fileSize: bytes.count)
        }
        let at = Int(offset)
        let sentinel = bytes.littleEndian(UInt32.self, at: at)!
        guard sentinel == Self.sentinel else { throw .badSentinel(offset: offset, found: sentinel) }
        let code = bytes.littleEndian(UInt32.self, at: at + 4)!
        guard let dataType = MILBlobDataType(rawValue: code) else { throw .unknownDataType(offset: offset, code: code) }
        let byteCount = bytes.littleEndian(UInt64.self, at: at + 8)!
        let dataOffset = bytes.littleEndian(UInt64.self, at: at + 16)!
        // Before iOS 18 this field was reserved and left uninitialized, so only sub-byte
        // types (introduced with it) may be trusted to set it.
        let paddingBits = dataType.isSubByte ? bytes.littleEndian(UInt64.self, at: at + 24)! : 0
        guard dataOffset % alignment == 0 else { throw .misalignedData(offset: offset, dataOffset: dataOffset) }
        guard dataOffset >= offset + alignment, dataOffset <= UInt64(bytes.count),
              byteCount <= UInt64(bytes.count) - dataOffset
        else {
            throw .dataOutsideFile(offset: offset, dataOffset: dataOffset, byteCount: byteCount, fileSize: bytes.count)
        }
        if dataType.isSubByte {
            let bits = byteCount * 8
            guard paddingBits < 8, paddingBits <= bits, (bits - paddingBits) % UInt64(dataType.bitWidth) == 0 else {
                throw .inconsistentPadding(offset: offset, dataType: dataType, byteCount: byteCount, paddingBits: paddingBits)
            }
        } else if byteCount % UInt64(dataType.bitWidth / 8) != 0 {
            throw .sizeNotMultipleOfElement(offset: offset, dataType: dataType, byteCount: byteCount)
        }
        return MILBlob(metadataOffset: offset, dataType: dataType, dataOffset: dataOffset,
                       byteCount: byteCount, paddingBits: paddingBits)
    }

    static func aligned(_ offset: UInt64) -> UInt64 {
        (offset + alignment - 1) / alignment * alignment
    }
}
