/// One central directory file header, parsed but not yet trusted: `entry(in:dataEnd:limits:)`
/// checks it against its local header and the limits.
struct ZipCentralDirectoryRecord {
    static let signature: UInt32 = 0x0201_4b50
    static let localSignature: UInt32 = 0x0403_4b50
    static let fixedSize = 46
    static let localFixedSize = 30

    let rawName: String
    let versionMadeBy: UInt16
    let flags: UInt16
    let method: UInt16
    let crc32: UInt32
    var compressedSize: UInt64
    var uncompressedSize: UInt64
    var localHeaderOffset: UInt64
    let externalAttributes: UInt32
    let nextOffset: Int

    init(parsing bytes: UnsafeRawBufferPointer, at offset: Int, end: Int) throws(ArchiveError) {
        let directory = UnsafeRawBufferPointer(rebasing: bytes[..<end])
        guard directory.littleEndian(UInt32.self, at: offset) == Self.signature,
              let nameLength = directory.littleEndian(UInt16.self, at: offset + 28),
              let extraLength = directory.littleEndian(UInt16.self, at: offset + 30),
              let commentLength = directory.littleEndian(UInt16.self, at: offset + 32)
        else {
            throw .corrupt(entry: nil, reason: "central directory record at byte \(offset) is missing or damaged")
        }
        let nameStart = offset + Self.fixedSize
        let extraStart = nameStart + Int(nameLength)
        nextOffset = extraStart + Int(extraLength) + Int(commentLength)
        guard nextOffset <= end else { throw .truncated(what: "the central directory") }
        // Names that are not UTF-8 (old CP437 archives) are rejected by the path check, shown
        // with replacement characters.
        rawName = String(decoding: directory[nameStart..<extraStart], as: UTF8.self)
        versionMadeBy = directory.littleEndian(UInt16.self, at: offset + 4)!
        flags = directory.littleEndian(UInt16.self, at: offset + 8)!
        method = directory.littleEndian(UInt16.self, at: offset + 10)!
        crc32 = directory.littleEndian(UInt32.self, at: offset + 16)!
        compressedSize = UInt64(directory.littleEndian(UInt32.self, at: offset + 20)!)
        uncompressedSize = UInt64(directory.littleEndian(UInt32.self, at: offset + 24)!)
        let diskStart = directory.littleEndian(UInt16.self, at: offset + 34)!
        externalAttributes = directory.littleEndian(UInt32.self, at: offset + 38)!
        localHeaderOffset = UInt64(directory.littleEndian(UInt32.self, at: offset + 42)!)
        guard rawName.utf8.elementsEqual(directory[nameStart..<extraStart]) else {
            throw .unsafePath(rawName, reason: "it is not valid UTF-8")
        }
        try readZip64Extra(UnsafeRawBufferPointer(rebasing: directory[extraStart..<(extraStart + Int(extraLength))]))
        guard diskStart == 0 || diskStart == 0xFFFF else { throw .notAnArchive(reason: "it spans several disks") }
    }

    /// ZIP64 extra field (id 1): 64-bit values for exactly those fields that hold 0xFFFFFFFF,
    /// in the order uncompressed size, compressed size, local header offset.
    private mutating func readZip64Extra(_ extra: UnsafeRawBufferPointer) throws(ArchiveError) {
        var offset = 0
        while let id = extra.littleEndian(UInt16.self, at: offset), let length = extra.littleEndian(UInt16.self, at: offset + 2) {
            let field = offset + 4
            offset = field + Int(length)
            guard id == 1 else { continue }
            var position = field
            for keyPath in [\Self.uncompressedSize, \Self.compressedSize, \Self.localHeaderOffset] where self[keyPath: keyPath] == 0xFFFF_FFFF {
                guard position + 8 <= offset, let value = extra.littleEndian(UInt64.self, at: position) else {
                    throw .corrupt(entry: rawName, reason: "ZIP64 extra field is too short")
                }
                self[keyPath: keyPath] = value
                position += 8
            }
        }
    }

    func entry(in bytes: UnsafeRawBufferPointer, dataEnd: Int, limits: ArchiveLimits) throws(ArchiveError) -> ZipEntry {
        let path = try ArchivePath.validated(rawName)
        let isDirectory = rawName.hasSuffix("/")
        // Bit 0: traditional encryption; bit 6: strong encryption.
        guard flags & 0x41 == 0 else { throw .encryptedEntry(path) }
        try checkFileType(path: path, isDirectory: isDirectory)
        guard let method = ZipEntry.Method(rawValue: method) else {
            throw .unsupportedCompression(entry: path, method: self.method)
        }
        guard !isDirectory || uncompressedSize == 0 else {
            throw .corrupt(entry: path, reason: "a directory entry holds \(uncompressedSize) bytes")
        }
        guard uncompressedSize <= limits.maxEntryByteCount else {
            throw .entryTooLarge(entry: path, byteCount: uncompressedSize, limit: limits.maxEntryByteCount)
        }
        switch method {
        case .stored where compressedSize != uncompressedSize:
            throw .corrupt(entry: path, reason: "stored entry has \(compressedSize) bytes but declares \(uncompressedSize)")
        // Entries under 1 MiB cannot hurt whatever their ratio, and tiny all-zero tensors reach 100:1.
        case .deflated where uncompressedSize > 1 << 20 && uncompressedSize / max(compressedSize, 1) >= limits.maxCompressionRatio:
            throw .compressionRatioTooHigh(entry: path, compressed: compressedSize, uncompressed: uncompressedSize,
                                           limit: limits.maxCompressionRatio)
        default: break
        }

        // The local header repeats the name; its own extra field may differ in length.
        let local = Int(clamping: localHeaderOffset)
        guard local <= dataEnd - Self.localFixedSize,
              bytes.littleEndian(UInt32.self, at: local) == Self.localSignature
        else { throw .dataOutsideArchive(entry: path) }
        let localNameLength = Int(bytes.littleEndian(UInt16.self, at: local + 26)!)
        let localExtraLength = Int(bytes.littleEndian(UInt16.self, at: local + 28)!)
        let dataStart = local + Self.localFixedSize + localNameLength + localExtraLength
        guard dataStart <= dataEnd, compressedSize <= UInt64(dataEnd - dataStart) else {
            throw .dataOutsideArchive(entry: path)
        }
        let nameStart = local + Self.localFixedSize
        guard bytes[nameStart..<(nameStart + localNameLength)].elementsEqual(rawName.utf8),
              bytes.littleEndian(UInt16.self, at: local + 8) == self.method
        else {
            throw .corrupt(entry: path, reason: "local header disagrees with the central directory")
        }
        let dataRange = dataStart..<(dataStart + Int(compressedSize))
        return ZipEntry(
            path: path, isDirectory: isDirectory, method: method, crc32: crc32,
            compressedByteCount: compressedSize, uncompressedByteCount: uncompressedSize,
            dataRange: dataRange, recordRange: local..<dataRange.upperBound)
    }

    /// Archives made on Unix (host 3 in the high byte of "version made by") keep the file's
    /// `st_mode` in the high 16 bits of the external attributes; a symlink there would be
    /// extracted as a link pointing anywhere.
    private func checkFileType(path: String, isDirectory: Bool) throws(ArchiveError) {
        guard versionMadeBy >> 8 == 3 else { return }
        let mode = externalAttributes >> 16
        switch mode & 0o170000 {
        case 0: return  // no mode recorded
        case 0o100000 where !isDirectory, 0o040000 where isDirectory: return
        case 0o120000: throw .unsupportedEntryType(entry: path, type: "symbolic link")
        case 0o100000, 0o040000:
            throw .corrupt(entry: path, reason: "its Unix mode and its name disagree on whether it is a directory")
        default: throw .unsupportedEntryType(entry: path, type: "special file")
        }
    }
}
