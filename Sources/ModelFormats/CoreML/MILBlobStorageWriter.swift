import QuantCore

/// Builds a `weight.bin` in memory, laid out byte for byte as coremltools' `StorageWriter`
/// lays it out for the same blobs in the same order: each metadata record at the next
/// 64-aligned offset after the previous data (zero-filled gap), data right after it, no
/// padding after the last blob, reserved fields zero.
public struct MILBlobStorageWriter: Sendable {
    public private(set) var bytes: [UInt8]
    public private(set) var blobs: [MILBlob] = []

    /// `capacity`: the expected file size, reserved up front so that a large file is not
    /// copied (and its fresh pages faulted in) again at every doubling as it grows.
    public init(reservingCapacity capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(max(capacity, Int(MILBlobStorage.alignment)))
        bytes.append(contentsOf: repeatElement(0, count: Int(MILBlobStorage.alignment)))
        setHeader()
    }

    /// Appends a blob of already-encoded elements and returns its metadata offset, the value a
    /// model's `BlobFileValue.offset` must hold. `paddingBits` is for sub-byte types only: the
    /// unused high bits of the last byte.
    @discardableResult
    public mutating func append(_ dataType: MILBlobDataType, data: UnsafeRawBufferPointer, paddingBits: UInt64 = 0) -> UInt64 {
        precondition(dataType.isSubByte || paddingBits == 0, "padding bits apply only to sub-byte types")
        precondition(paddingBits < 8 && (data.count * 8 - Int(paddingBits)) % dataType.bitWidth == 0,
                     "\(data.count) bytes with \(paddingBits) padding bits are not whole \(dataType) elements")
        let metadataOffset = MILBlobStorage.aligned(UInt64(bytes.count))
        let dataOffset = metadataOffset + MILBlobStorage.alignment
        bytes.append(contentsOf: repeatElement(0, count: Int(metadataOffset) - bytes.count))
        bytes.appendLittleEndian(MILBlobStorage.sentinel)
        bytes.appendLittleEndian(dataType.rawValue)
        bytes.appendLittleEndian(UInt64(data.count))
        bytes.appendLittleEndian(dataOffset)
        bytes.appendLittleEndian(paddingBits)
        bytes.append(contentsOf: repeatElement(0, count: Int(dataOffset) - bytes.count))
        bytes.append(contentsOf: data)
        blobs.append(MILBlob(metadataOffset: metadataOffset, dataType: dataType, dataOffset: dataOffset,
                             byteCount: UInt64(data.count), paddingBits: paddingBits))
        setHeader()
        return metadataOffset
    }

    /// Packs sub-byte codes (one per byte, low bits used; two's complement for int4) LSB-first,
    /// as Core ML reads them, and appends them with the matching padding.
    @discardableResult
    public mutating func appendPacked(_ dataType: MILBlobDataType, codes: [UInt8]) -> UInt64 {
        precondition(dataType.isSubByte, "\(dataType) is not a sub-byte type")
        let packed = BitPacking.pack(codes, bits: dataType.bitWidth)
        let paddingBits = UInt64(packed.count * 8 - codes.count * dataType.bitWidth)
        return packed.withUnsafeBytes { append(dataType, data: $0, paddingBits: paddingBits) }
    }

    private mutating func setHeader() {
        withUnsafeBytes(of: UInt32(blobs.count).littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt32(2).littleEndian) { bytes.replaceSubrange(4..<8, with: $0) }
    }
}
