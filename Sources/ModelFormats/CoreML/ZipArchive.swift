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

    /// Passes the entry's uncompressed bytes to `output` in pieces, then verifies its size and
    /// CRC-32; on a throw, discard what `output` received. `bytes` must be the parsed archive.
    public func extract(
        _ entry: ZipEntry, from bytes: UnsafeRawBufferPointer, to output: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let reader = try ZipEntryReader(entry, archive: bytes)
        while let piece = try reader.next() {
            try output(piece)
        }
    }

    /// The entry's uncompressed bytes, verified.
    public func contents(of entry: ZipEntry, in bytes: UnsafeRawBufferPointer) throws(ArchiveError) -> [UInt8] {
        var contents: [UInt8] = []
        contents.reserveCapacity(Int(entry.uncompressedByteCount))
        let reader = try ZipEntryReader(entry, archive: bytes)
        while let piece = try reader.next() {
            contents.append(contentsOf: piece)
        }
        return contents
    }
}
