/// One file or directory of a tar archive. Tar does not compress, so the bytes are read in
/// place through `dataRange`.
public struct TarEntry: Sendable, Equatable {
    /// The validated relative path, without a trailing `/`.
    public let path: String
    public let isDirectory: Bool
    /// Where the entry's bytes lie in the archive.
    public let dataRange: Range<Int>
}
