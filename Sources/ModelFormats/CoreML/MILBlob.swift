/// One blob of MIL blob storage: the 64-byte metadata record at `metadataOffset` (what a
/// model's `BlobFileValue.offset` points at) and the data it describes.
public struct MILBlob: Sendable, Equatable {
    public let metadataOffset: UInt64
    public let dataType: MILBlobDataType
    /// Absolute offset of the data in the file, 64-byte aligned.
    public let dataOffset: UInt64
    public let byteCount: UInt64
    /// For sub-byte types, the unused high bits of the last byte; 0 otherwise.
    public let paddingBits: UInt64

    /// Elements stored; for sub-byte types the padding bits are not elements.
    public var elementCount: UInt64 {
        (byteCount * 8 - paddingBits) / UInt64(dataType.bitWidth)
    }

    public var dataRange: Range<Int> { Int(dataOffset)..<Int(dataOffset + byteCount) }
}
