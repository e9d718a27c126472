/// Yields one entry's uncompressed bytes piece by piece, refusing to produce more than the
/// declared size (which `ZipArchive` checked against the limits) and verifying size and CRC-32
/// before reporting the end.
final class ZipEntryReader {
    private let entry: ZipEntry
    private var stored: UnsafeRawBufferPointer?
    private let inflater: RawInflater?
    private let buffer: UnsafeMutableRawBufferPointer
    private var produced: UInt64 = 0
    private var crc = CRC32()
    private var done = false

    init(_ entry: ZipEntry, archive: UnsafeRawBufferPointer) throws(ArchiveError) {
        precondition(entry.dataRange.upperBound <= archive.count, "entry '\(entry.path)' is not from this archive")
        let data = UnsafeRawBufferPointer(rebasing: archive[entry.dataRange])
        self.entry = entry
        switch entry.method {
        case .stored:
            stored = data
            inflater = nil
            buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        case .deflated:
            inflater = try RawInflater(data, entry: entry.path)
            // One byte more than the entry can hold, so an overlong stream shows at once.
            let size = Int(min(entry.uncompressedByteCount + 1, 1 << 18))
            buffer = .allocate(byteCount: size, alignment: 16)
        }
    }

    deinit {
        buffer.deallocate()
    }

    /// The next piece, valid until the next call; nil once the entry is complete and verified.
    func next() throws(ArchiveError) -> UnsafeRawBufferPointer? {
        guard !done else { return nil }
        let piece: UnsafeRawBufferPointer
        if let inflater {
            let count = try inflater.read(into: buffer)
            piece = UnsafeRawBufferPointer(rebasing: buffer[..<count])
        } else {
            piece = stored ?? UnsafeRawBufferPointer(start: nil, count: 0)
            stored = nil
        }
        produced += UInt64(piece.count)
        guard produced <= entry.uncompressedByteCount else {
            throw .sizeMismatch(entry: entry.path, declared: entry.uncompressedByteCount, actual: produced)
        }
        crc.update(piece)
        if !piece.isEmpty { return piece }
        done = true
        guard produced == entry.uncompressedByteCount else {
            throw .sizeMismatch(entry: entry.path, declared: entry.uncompressedByteCount, actual: produced)
        }
        guard crc.value == entry.crc32 else {
            throw .checksumMismatch(entry: entry.path, declared: entry.crc32, actual: crc.value)
        }
        return nil
    }
}
