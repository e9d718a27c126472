/// Where a zip archive's central directory is and how many entries it holds, from the End Of
/// Central Directory record at the file's end and, when a field overflows, the ZIP64 record
/// its locator points at.
struct ZipEndOfCentralDirectory {
    static let signature: UInt32 = 0x0605_4b50
    static let zip64Signature: UInt32 = 0x0606_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    static let recordSize = 22

    let entryCount: UInt64
    /// The central directory's bytes; everything before it is local headers and data.
    let range: Range<Int>

    init(locatingIn bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
        let recordOffset = try Self.findRecord(in: bytes)
        let read16 = { (at: Int) in UInt64(bytes.littleEndian(UInt16.self, at: recordOffset + at)!) }
        let read32 = { (at: Int) in UInt64(bytes.littleEndian(UInt32.self, at: recordOffset + at)!) }
        let (disk, directoryDisk) = (read16(4), read16(6))
        var (diskEntries, entries, size, offset) = (read16(8), read16(10), read32(12), read32(16))
        var directoryEnd = recordOffset

        if entries == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            let locator = recordOffset - 20
            guard bytes.littleEndian(UInt32.self, at: locator) == Self.zip64LocatorSignature,
                  let zip64Offset = bytes.littleEndian(UInt64.self, at: locator + 8),
                  zip64Offset < UInt64(locator),
                  bytes.littleEndian(UInt32.self, at: Int(zip64Offset)) == Self.zip64Signature,
                  let zipDisk = bytes.littleEndian(UInt32.self, at: Int(zip64Offset) + 16),
                  let zipDirectoryDisk = bytes.littleEndian(UInt32.self, at: Int(zip64Offset) + 20),
                  let zipDiskEntries = bytes.littleEndian(UInt64.self, at: Int(zip64Offset) + 24),
                  let zipEntries = bytes.littleEndian(UInt64.self, at: Int(zip64Offset) + 32),
                  let zipSize = bytes.littleEndian(UInt64.self, at: Int(zip64Offset) + 40),
                  let zipOffset = bytes.littleEndian(UInt64.self, at: Int(zip64Offset) + 48)
            else {
                throw .corrupt(entry: nil, reason: "the end record needs a ZIP64 record, which is missing or damaged")
            }
            guard zipDisk == 0, zipDirectoryDisk == 0 else { throw .notAnArchive(reason: "it spans several disks") }
            (diskEntries, entries, size, offset) = (zipDiskEntries, zipEntries, zipSize, zipOffset)
            directoryEnd = Int(zip64Offset)
        } else {
            guard disk == 0, directoryDisk == 0 else { throw .notAnArchive(reason: "it spans several disks") }
        }
        guard diskEntries == entries else { throw .notAnArchive(reason: "it spans several disks") }
        guard offset <= UInt64(directoryEnd), size <= UInt64(directoryEnd) - offset else {
            throw .truncated(what: "the central directory")
        }
        entryCount = entries
        range = Int(offset)..<(Int(offset) + Int(size))
    }

    /// The record is 22 bytes plus a comment of up to 64 KiB, so it is searched for backwards
    /// from the end; a candidate counts only if its comment ends exactly at the end of the file,
    /// so the signature's bytes inside a comment or inside data are not mistaken for it.
    private static func findRecord(in bytes: UnsafeRawBufferPointer) throws(ArchiveError) -> Int {
        guard bytes.count >= recordSize else {
            throw .notAnArchive(reason: "\(bytes.count) bytes is too small for a zip file")
        }
        let lowest = max(0, bytes.count - recordSize - Int(UInt16.max))
        for candidate in stride(from: bytes.count - recordSize, through: lowest, by: -1)
        where bytes.littleEndian(UInt32.self, at: candidate) == signature {
            let commentLength = Int(bytes.littleEndian(UInt16.self, at: candidate + 20)!)
            if candidate + recordSize + commentLength == bytes.count { return candidate }
        }
        throw .notAnArchive(reason: "no end of central directory record")
    }
}
