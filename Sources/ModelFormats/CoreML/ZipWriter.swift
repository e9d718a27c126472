/// Writes a zip archive of stored (uncompressed) entries in one forward pass to a closure or
/// file descriptor. Stored because the artifact is gzipped as a whole afterwards; compressing
/// twice costs time and gains nothing.
///
/// The output is deterministic: every entry gets the same timestamp (1980-01-01, the earliest
/// a zip can record) and fixed Unix modes, so the same inputs give the same bytes. ZIP64 is not
/// written; an archive that would need it (over 4 GiB or 65535 entries) is refused.
public struct ZipWriter {
    private struct Written {
        let name: [UInt8]
        let crc32: UInt32
        let size: UInt32
        let localHeaderOffset: UInt32
        let isDirectory: Bool
    }

    private let output: (UnsafeRawBufferPointer) throws -> Void
    private var written: [Written] = []
    private var names = Set<String>()
    private var offset: UInt64 = 0
    private var finished = false

    public init(output: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.output = output
    }

    /// `name` is a relative path; a trailing `/` is added.
    public mutating func addDirectory(_ name: String) throws {
        let path = try ArchivePath.validated(name)
        try add(name: path + "/", size: 0, isDirectory: true) { _ in }
    }

    public mutating func addFile(_ name: String, contents: UnsafeRawBufferPointer) throws {
        guard !name.hasSuffix("/") else { throw ZipWriterError.fileNameEndsWithSlash(name) }
        let path = try ArchivePath.validated(name)
        try add(name: path, size: contents.count, isDirectory: false) { visit in try visit(contents) }
    }

    /// A file whose contents are the concatenation of `pieces`, written without joining them.
    public mutating func addFile(_ name: String, pieces: [[UInt8]]) throws {
        guard !name.hasSuffix("/") else { throw ZipWriterError.fileNameEndsWithSlash(name) }
        let path = try ArchivePath.validated(name)
        try add(name: path, size: pieces.reduce(0) { $0 + $1.count }, isDirectory: false) { visit in
            for piece in pieces { try piece.withUnsafeBytes { try visit($0) } }
        }
    }

    /// Writes the central directory and end record; the writer accepts nothing afterwards.
    public mutating func finish() throws {
        precondition(!finished, "ZipWriter.finish called twice")
        finished = true
        let directoryOffset = offset
        var directory: [UInt8] = []
        for entry in written {
            directory.appendLittleEndian(ZipCentralDirectoryRecord.signature)
            directory.appendLittleEndian(UInt16(3 << 8 | 20))  // made by Unix, zip 2.0
            appendCommonFields(entry, to: &directory)
            directory.appendLittleEndian(UInt16(0))  // comment length
            directory.appendLittleEndian(UInt16(0))  // disk number
            directory.appendLittleEndian(UInt16(0))  // internal attributes
            // st_mode in the high half; 0x10 is the MS-DOS directory bit.
            let attributes: UInt32 = entry.isDirectory ? (0o040755 << 16) | 0x10 : 0o100644 << 16
            directory.appendLittleEndian(attributes)
            directory.appendLittleEndian(entry.localHeaderOffset)
            directory.append(contentsOf: entry.name)
        }
        let directorySize = directory.count
        guard offset + UInt64(directorySize) <= UInt64(UInt32.max) else {
            throw ZipWriterError.needsZip64(reason: "the archive would exceed 4 GiB")
        }
        directory.appendLittleEndian(ZipEndOfCentralDirectory.signature)
        directory.appendLittleEndian(UInt32(0))  // this disk, disk with the directory
        directory.appendLittleEndian(UInt16(written.count))
        directory.appendLittleEndian(UInt16(written.count))
        directory.appendLittleEndian(UInt32(directorySize))
        directory.appendLittleEndian(UInt32(directoryOffset))
        directory.appendLittleEndian(UInt16(0))  // comment length
        try emit(directory)
    }

    /// Writes to an open descriptor at its current position, buffering small pieces. The caller
    /// owns the descriptor and must call `finish` before closing it.
    public static func writing(
        toFileDescriptor fileDescriptor: Int32, _ body: (inout ZipWriter) throws -> Void
    ) throws {
        var buffered = FileDescriptorOutput(fileDescriptor: fileDescriptor)
        try withoutActuallyEscaping({ (bytes: UnsafeRawBufferPointer) throws in try buffered.append(bytes) }) { output in
            var writer = ZipWriter(output: output)
            try body(&writer)
            guard writer.finished else { throw ZipWriterError.notFinished }
        }
        try buffered.flush()
    }

    /// `forEachPiece` hands the contents to its argument in order; it is called twice, for the
    /// CRC the header needs and then to write them.
    private mutating func add(name: String, size: Int, isDirectory: Bool,
                              forEachPiece: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        precondition(!finished, "ZipWriter used after finish")
        guard names.insert(name).inserted else { throw ZipWriterError.duplicateEntry(name) }
        guard written.count < Int(UInt16.max) else { throw ZipWriterError.needsZip64(reason: "more than 65535 entries") }
        let nameBytes = Array(name.utf8)
        let headerSize = UInt64(ZipCentralDirectoryRecord.localFixedSize + nameBytes.count)
        guard offset + headerSize + UInt64(size) <= UInt64(UInt32.max) else {
            throw ZipWriterError.needsZip64(reason: "the archive would exceed 4 GiB at '\(name)'")
        }
        var crc = CRC32()
        try forEachPiece { crc.update($0) }
        let entry = Written(name: nameBytes, crc32: crc.value, size: UInt32(size),
                            localHeaderOffset: UInt32(offset), isDirectory: isDirectory)
        var header: [UInt8] = []
        header.appendLittleEndian(ZipCentralDirectoryRecord.localSignature)
        appendCommonFields(entry, to: &header)
        header.append(contentsOf: nameBytes)
        try emit(header)
        try forEachPiece { piece in if piece.count > 0 { try output(piece) } }
        offset += UInt64(size)
        written.append(entry)
    }

    /// The fields local header and central record share, from "version needed" to "extra length".
    private func appendCommonFields(_ entry: Written, to bytes: inout [UInt8]) {
        bytes.appendLittleEndian(UInt16(20))  // version needed: 2.0
        // Bit 11: the name is UTF-8, which matters only when it is not ASCII.
        bytes.appendLittleEndian(UInt16(entry.name.allSatisfy { $0 < 0x80 } ? 0 : 1 << 11))
        bytes.appendLittleEndian(ZipEntry.Method.stored.rawValue)
        bytes.appendLittleEndian(UInt16(0))  // time 00:00
        bytes.appendLittleEndian(UInt16(0x21))  // date 1980-01-01
        bytes.appendLittleEndian(entry.crc32)
        bytes.appendLittleEndian(entry.size)  // compressed
        bytes.appendLittleEndian(entry.size)  // uncompressed
        bytes.appendLittleEndian(UInt16(entry.name.count))
        bytes.appendLittleEndian(UInt16(0))  // extra length
    }

    private mutating func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try output($0) }
        offset += UInt64(bytes.count)
    }
}
