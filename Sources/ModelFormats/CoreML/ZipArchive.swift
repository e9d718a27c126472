/// A zip archive's table of contents, read from its central directory and checked against
/// every local header before any byte is extracted. A pure value parsed from the archive's
/// bytes (typically a `MemoryMappedFile`), so hostile inputs are tested without files.
///
/// Accepted: stored and deflated entries, regular files and directories, ZIP64 records.
/// Rejected with an `ArchiveError`: unsafe paths, symlinks and other special files, duplicate
/// names, encryption, multi-disk archives, data outside the file or shared by two entries (the
/// overlapping-entry zip bomb), and sizes or ratios beyond `ArchiveLimits`. Declared sizes are
/// checked against the limits here and extraction stops at the declared size, so no entry can
/// expand past what was checked.
public struct ZipArchive: Sendable {
    /// In central-directory order.
    public let entries: [ZipEntry]
    private let indexByPath: [String: Int]

    public init(parsing bytes: UnsafeRawBufferPointer, limits: ArchiveLimits = ArchiveLimits()) throws(ArchiveError) {
        let directory = try ZipEndOfCentralDirectory(locatingIn: bytes)
        guard directory.entryCount <= UInt64(limits.maxEntryCount) else { throw .tooManyEntries(limit: limits.maxEntryCount) }
        var entries: [ZipEntry] = []
        entries.reserveCapacity(Int(directory.entryCount))
        var indexByPath: [String: Int] = [:]
        var total: UInt64 = 0
        var offset = directory.range.lowerBound
        for _ in 0..<directory.entryCount {
            let record = try ZipCentralDirectoryRecord(parsing: bytes, at: offset, end: directory.range.upperBound)
            offset = record.nextOffset
            let entry = try record.entry(in: bytes, dataEnd: directory.range.lowerBound, limits: limits)
            guard indexByPath.updateValue(entries.count, forKey: entry.path) == nil else {
                throw .duplicateEntry(entry.path)
            }
            total += entry.uncompressedByteCount
            guard total <= limits.maxTotalByteCount else { throw .totalTooLarge(limit: limits.maxTotalByteCount) }
            entries.append(entry)
        }
        let byStart = entries.sorted { $0.recordRange.lowerBound < $1.recordRange.lowerBound }
        for (first, second) in zip(byStart, byStart.dropFirst()) where first.recordRange.overlaps(second.recordRange) {
            throw .overlappingEntries(first.path, second.path)
        }
        self.entries = entries
        self.indexByPath = indexByPath
    }

    public func entry(at path: String) -> ZipEntry? {
        indexByPath[path].map { entries[$0] }
    }

    /// Writes the entry's uncompressed bytes into `buffer`, which holds exactly its declared
    /// size, and verifies their size and CRC-32; on a throw, discard the buffer's contents.
    /// `bytes` must be the parsed archive.
    public func extract(_ entry: ZipEntry, from bytes: UnsafeRawBufferPointer,
                        into buffer: UnsafeMutableRawBufferPointer) throws(ArchiveError) {
        precondition(UInt64(buffer.count) == entry.uncompressedByteCount, "buffer is not the size of '\(entry.path)'")
        let data = Self.data(of: entry, in: bytes)
        switch entry.method {
        case .stored:
            // Parsing checked that a stored entry's two sizes agree.
            buffer.copyMemory(from: data)
        case .deflated:
            let count = try DeflateDecoder.decode(data, into: buffer, entry: entry.path)
            guard count == buffer.count else {
                throw .sizeMismatch(entry: entry.path, declared: entry.uncompressedByteCount, actual: UInt64(count))
            }
        }
        try Self.verifyChecksum(of: entry, UnsafeRawBufferPointer(buffer))
    }

    /// A stored entry's bytes in place in `bytes` (the parsed archive), CRC-32 verified.
    public func storedBytes(of entry: ZipEntry, in bytes: UnsafeRawBufferPointer) throws(ArchiveError) -> UnsafeRawBufferPointer {
        precondition(entry.method == .stored, "entry '\(entry.path)' is compressed")
        let data = Self.data(of: entry, in: bytes)
        try Self.verifyChecksum(of: entry, data)
        return data
    }

    /// The entry's uncompressed bytes, verified.
    public func contents(of entry: ZipEntry, in bytes: UnsafeRawBufferPointer) throws(ArchiveError) -> [UInt8] {
        let count = Int(entry.uncompressedByteCount)
        var failure: ArchiveError?
        let contents = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(ArchiveError) {
                try extract(entry, from: bytes, into: UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return contents
    }

    /// The entry's bytes as the archive holds them (deflated or stored), not verified.
    func rawData(of entry: ZipEntry, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        Self.data(of: entry, in: bytes)
    }

    private static func data(of entry: ZipEntry, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        precondition(entry.dataRange.upperBound <= bytes.count, "entry '\(entry.path)' is not from this archive")
        return UnsafeRawBufferPointer(rebasing: bytes[entry.dataRange])
    }

    static func verifyChecksum(of entry: ZipEntry, _ contents: UnsafeRawBufferPointer) throws(ArchiveError) {
        let crc = CRC32.checksum(contents)
        guard crc == entry.crc32 else { throw .checksumMismatch(entry: entry.path, declared: entry.crc32, actual: crc) }
    }
}
