/// One file or directory of a zip archive, as its central directory and local header agree.
public struct ZipEntry: Sendable, Equatable {
    public enum Method: UInt16, Sendable {
        case stored = 0
        case deflated = 8
    }

    /// The validated relative path, without the trailing `/` that marks a directory.
    public let path: String
    public let isDirectory: Bool
    public let method: Method
    public let crc32: UInt32
    public let compressedByteCount: UInt64
    public let uncompressedByteCount: UInt64
    /// Where the entry's (possibly compressed) bytes lie in the archive.
    public let dataRange: Range<Int>
    /// From the local header's start to the end of the data: what no other entry may share.
    let recordRange: Range<Int>
}
