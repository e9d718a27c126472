/// A tar archive's entries (ustar, with pax extended headers and GNU long names), with the
/// same path rules and limits as `ZipArchive`. A pure value parsed from the archive's bytes.
///
/// Accepted: regular files and directories. Rejected with an `ArchiveError`: links, devices,
/// FIFOs and other types, unsafe or duplicate paths, bad header checksums, sizes beyond the
/// limits, and data running past the end of the file.
public struct TarArchive: Sendable {
    static let blockSize = 512
    /// pax and GNU long-name records only hold a path and a few numbers.
    static let maxMetadataByteCount = 1 << 16

    /// In archive order.
    public let entries: [TarEntry]
    private let indexByPath: [String: Int]

    public init(parsing bytes: UnsafeRawBufferPointer, limits: ArchiveLimits = ArchiveLimits()) throws(ArchiveError) {
        var entries: [TarEntry] = []
        var indexByPath: [String: Int] = [:]
        var total: UInt64 = 0
        var offset = 0
        // Overrides for the next header, from a pax 'x' record or a GNU 'L' record.
        var pendingPath: String?
        var pendingSize: UInt64?
        while true {
            guard offset + Self.blockSize <= bytes.count else { throw .truncated(what: "the header at byte \(offset)") }
            let header = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Self.blockSize)])
            // The archive ends with zero blocks; what follows them (record padding) is ignored.
            if header.allSatisfy({ $0 == 0 }) { break }
            try Self.verifyChecksum(header, at: offset)
            let type = header[156]
            let headerName = try Self.name(of: header)
            guard let octalSize = Self.number(header, 124, 12) else {
                throw .corrupt(entry: headerName, reason: "size field is not a number")
            }
            let size = pendingSize ?? octalSize
            let dataStart = offset + Self.blockSize
            guard size <= UInt64(bytes.count - dataStart) else { throw .dataOutsideArchive(entry: headerName) }
            let data = dataStart..<(dataStart + Int(size))
            offset = dataStart + (Int(size) + Self.blockSize - 1) / Self.blockSize * Self.blockSize

            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "L"):
                guard size <= Self.maxMetadataByteCount else {
                    throw .corrupt(entry: headerName, reason: "extended header of \(size) bytes is too large")
                }
                let record = UnsafeRawBufferPointer(rebasing: bytes[data])
                if type == UInt8(ascii: "L") {
                    pendingPath = String(decoding: record.prefix { $0 != 0 }, as: UTF8.self)
                } else {
                    let pax = try TarPaxRecords(parsing: record, entry: headerName)
                    pendingPath = pax.path ?? pendingPath
                    pendingSize = pax.size ?? pendingSize
                }
                continue
            case UInt8(ascii: "g"):
                continue  // global pax defaults (comments, charsets): nothing an entry here needs
            default:
                break
            }

            let rawPath = pendingPath ?? headerName
            (pendingPath, pendingSize) = (nil, nil)
            let path = try ArchivePath.validated(rawPath)
            let isDirectory: Bool
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): isDirectory = false
            case UInt8(ascii: "5"): isDirectory = true
            case UInt8(ascii: "1"): throw .unsupportedEntryType(entry: path, type: "hard link")
            case UInt8(ascii: "2"): throw .unsupportedEntryType(entry: path, type: "symbolic link")
            default: throw .unsupportedEntryType(entry: path, type: "tar entry of type '\(Unicode.Scalar(type))'")
            }
            guard !isDirectory || size == 0 else {
                throw .corrupt(entry: path, reason: "a directory entry holds \(size) bytes")
            }
            guard size <= limits.maxEntryByteCount else {
                throw .entryTooLarge(entry: path, byteCount: size, limit: limits.maxEntryByteCount)
            }
            total += size
            guard total <= limits.maxTotalByteCount else { throw .totalTooLarge(limit: limits.maxTotalByteCount) }
            guard entries.count < limits.maxEntryCount else { throw .tooManyEntries(limit: limits.maxEntryCount) }
            guard indexByPath.updateValue(entries.count, forKey: path) == nil else { throw .duplicateEntry(path) }
            entries.append(TarEntry(path: path, isDirectory: isDirectory, dataRange: data))
        }
        self.entries = entries
        self.indexByPath = indexByPath
    }

    public func entry(at path: String) -> TarEntry? {
        indexByPath[path].map { entries[$0] }
    }

    /// ustar splits long names into `prefix/name`.
    private static func name(of header: UnsafeRawBufferPointer) throws(ArchiveError) -> String {
        let name = string(header, 0, 100)
        let isUstar = header[257..<262].elementsEqual("ustar".utf8)
        let prefix = isUstar ? string(header, 345, 155) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    private static func string(_ header: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> String {
        String(decoding: header[offset..<(offset + length)].prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Octal digits, space/NUL padded; GNU base-256 (high bit set) for values over 8 GiB.
    static func number(_ header: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> UInt64? {
        let field = header[offset..<(offset + length)]
        if let first = field.first, first & 0x80 != 0 {
            // The value is the bytes after the marker; an 8-byte field (the checksum) has only 7.
            let value = field.dropFirst()
            guard first == 0x80, value.dropLast(8).allSatisfy({ $0 == 0 }) else { return nil }
            return value.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
        }
        let digits = field.drop { $0 == 0x20 }.prefix { $0 != 0 && $0 != 0x20 }
        guard !digits.isEmpty, digits.count <= 21,
              digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) })
        else { return nil }
        return digits.reduce(0) { $0 << 3 | UInt64($1 - UInt8(ascii: "0")) }
    }

    /// The checksum is the byte sum of the header with its own field read as spaces.
    private static func verifyChecksum(_ header: UnsafeRawBufferPointer, at offset: Int) throws(ArchiveError) {
        guard let recorded = number(header, 148, 8) else {
            throw .notAnArchive(reason: "the header at byte \(offset) has no checksum")
        }
        var sum: UInt64 = 8 * 0x20
        for (index, byte) in header.enumerated() where !(148..<156).contains(index) { sum += UInt64(byte) }
        guard sum == recorded else {
            throw .corrupt(entry: nil, reason: "header at byte \(offset) fails its checksum (\(recorded), computed \(sum))")
        }
    }
}
