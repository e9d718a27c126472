import QuantCore

/// Builds a `weight.bin`, laid out byte for byte as coremltools' `StorageWriter` lays it out
/// for the same blobs in the same order: each metadata record at the next 64-aligned offset
/// after the previous data (zero-filled gap), data right after it, no padding after the last
/// blob, reserved fields zero.
///
/// The file is kept as a list of segments rather than one buffer: blob data handed over as an
/// array is kept by reference, not copied, so a compressed model's weight file (tens of MB)
/// goes from the encoder's arrays straight to the zip writer.
public struct MILBlobStorageWriter: Sendable {
    /// The file after its 64-byte header, in order.
    private var segments: [[UInt8]] = []
    public private(set) var blobs: [MILBlob] = []
    /// The file's size so far, header included.
    public private(set) var byteCount = Int(MILBlobStorage.alignment)

    public init() {}

    /// Appends a blob of already-encoded elements and returns its metadata offset, the value a
    /// model's `BlobFileValue.offset` must hold. `paddingBits` is for sub-byte types only: the
    /// unused high bits of the last byte. The array is kept, not copied.
    @discardableResult
    public mutating func append(_ dataType: MILBlobDataType, blob data: [UInt8], paddingBits: UInt64 = 0) -> UInt64 {
        precondition(dataType.isSubByte || paddingBits == 0, "padding bits apply only to sub-byte types")
        precondition(paddingBits < 8 && (data.count * 8 - Int(paddingBits)) % dataType.bitWidth == 0,
                     "\(data.count) bytes with \(paddingBits) padding bits are not whole \(dataType) elements")
        let metadataOffset = MILBlobStorage.aligned(UInt64(byteCount))
        let dataOffset = metadataOffset + MILBlobStorage.alignment
        var metadata = [UInt8](repeating: 0, count: Int(metadataOffset) - byteCount)
        metadata.reserveCapacity(metadata.count + Int(MILBlobStorage.alignment))
        metadata.appendLittleEndian(MILBlobStorage.sentinel)
        metadata.appendLittleEndian(dataType.rawValue)
        metadata.appendLittleEndian(UInt64(data.count))
        metadata.appendLittleEndian(dataOffset)
        metadata.appendLittleEndian(paddingBits)
        metadata.append(contentsOf: repeatElement(0, count: Int(dataOffset) - byteCount - metadata.count))
        segments.append(metadata)
        segments.append(data)
        byteCount = Int(dataOffset) + data.count
        blobs.append(MILBlob(metadataOffset: metadataOffset, dataType: dataType, dataOffset: dataOffset,
                             byteCount: UInt64(data.count), paddingBits: paddingBits))
        return metadataOffset
    }

    /// `append(_:blob:paddingBits:)` for bytes the caller owns: they are copied.
    @discardableResult
    public mutating func append(_ dataType: MILBlobDataType, data: UnsafeRawBufferPointer, paddingBits: UInt64 = 0) -> UInt64 {
        append(dataType, blob: [UInt8](data), paddingBits: paddingBits)
    }

    /// Packs sub-byte codes (one per byte, low bits used; two's complement for int4) LSB-first,
    /// as Core ML reads them, and appends them with the matching padding.
    @discardableResult
    public mutating func appendPacked(_ dataType: MILBlobDataType, codes: [UInt8]) -> UInt64 {
        precondition(dataType.isSubByte, "\(dataType) is not a sub-byte type")
        let packed = BitPacking.pack(codes, bits: dataType.bitWidth)
        let paddingBits = UInt64(packed.count * 8 - codes.count * dataType.bitWidth)
        return append(dataType, blob: packed, paddingBits: paddingBits)
    }

    /// The file as its pieces, in order: the header, then each blob's metadata and data.
    public var pieces: [[UInt8]] { [header] + segments }

    /// The whole file in one buffer (for small files and tests; writers use `pieces`).
    public var bytes: [UInt8] {
        var file: [UInt8] = []
        file.reserveCapacity(byteCount)
        for piece in pieces { file += piece }
        return file
    }

    /// Blob count and format version 2, then zeros to the first alignment boundary.
    private var header: [UInt8] {
        var header: [UInt8] = []
        header.appendLittleEndian(UInt32(blobs.count))
        header.appendLittleEndian(UInt32(2))
        header.append(contentsOf: repeatElement(0, count: Int(MILBlobStorage.alignment) - header.count))
        return header
    }
}
