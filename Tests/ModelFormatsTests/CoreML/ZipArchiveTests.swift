import Testing
@testable import ModelFormats

@Suite struct ZipArchiveTests {
    @Test func readsStoredAndDeflatedEntriesAndDirectories() throws {
        let text = Array(String(repeating: "weights ", count: 100).utf8)
        let bytes = ZipTestBytes.archive([
            .init(name: "pkg/", unixMode: 0o040755),
            .init(name: "pkg/a.txt", data: [1, 2, 3]),
            .init(name: "pkg/b.bin", data: text, deflate: true),
            .init(name: "pkg/empty", data: [], deflate: true),
        ])
        let archive = try parseZip(bytes)
        #expect(archive.entries.map(\.path) == ["pkg", "pkg/a.txt", "pkg/b.bin", "pkg/empty"])
        #expect(archive.entries.map(\.isDirectory) == [true, false, false, false])
        #expect(try zipContents(bytes, "pkg/a.txt") == [1, 2, 3])
        #expect(try zipContents(bytes, "pkg/b.bin") == text)
        #expect(try zipContents(bytes, "pkg/empty") == [])
        #expect(archive.entry(at: "pkg/b.bin")!.method == .deflated)
    }

    @Test func extractsIntoABufferAndReadsStoredEntriesInPlace() throws {
        let data = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) }
        let bytes = ZipTestBytes.archive([.init(name: "w.bin", data: data, deflate: true), .init(name: "s.bin", data: data)])
        let archive = try parseZip(bytes)
        var extracted = [UInt8](repeating: 0, count: data.count)
        try bytes.withUnsafeBytes { archiveBytes in
            try extracted.withUnsafeMutableBytes { try archive.extract(archive.entries[0], from: archiveBytes, into: $0) }
            let stored = try archive.storedBytes(of: archive.entries[1], in: archiveBytes)
            #expect(stored.baseAddress == archiveBytes.baseAddress! + archive.entries[1].dataRange.lowerBound)
            #expect(Array(stored) == data)
        }
        #expect(extracted == data)
    }

    @Test(arguments: ["../evil", "a/../../evil", "/etc/passwd", "a\\..\\evil", "a\u{0}b", "a//b", "./a", ""])
    func rejectsUnsafePaths(name: String) {
        #expect { try parseZip(ZipTestBytes.archive([.init(name: name, data: [1])])) } throws: {
            if case .unsafePath = $0 as? ArchiveError { return true } else { return false }
        }
    }

    @Test func rejectsSymlinksAndSpecialFiles() {
        #expect(throws: ArchiveError.unsupportedEntryType(entry: "link", type: "symbolic link")) {
            try parseZip(ZipTestBytes.archive([.init(name: "link", data: Array("/etc/passwd".utf8), unixMode: 0o120777)]))
        }
        #expect(throws: ArchiveError.unsupportedEntryType(entry: "fifo", type: "special file")) {
            try parseZip(ZipTestBytes.archive([.init(name: "fifo", unixMode: 0o010644)]))
        }
        // Attributes from a non-Unix host are not modes, so they are not read as one.
        #expect(throws: Never.self) {
            try parseZip(ZipTestBytes.archive([.init(name: "f", data: [1], versionMadeBy: 20, unixMode: 0o120777)]))
        }
    }

    @Test func rejectsDuplicatesAndEncryption() {
        #expect(throws: ArchiveError.duplicateEntry("a")) {
            try parseZip(ZipTestBytes.archive([.init(name: "a", data: [1]), .init(name: "a", data: [2])]))
        }
        #expect(throws: ArchiveError.duplicateEntry("a")) {
            try parseZip(ZipTestBytes.archive([.init(name: "a", data: [1]), .init(name: "a/", unixMode: 0o040755)]))
        }
        #expect(throws: ArchiveError.encryptedEntry("a")) {
            try parseZip(ZipTestBytes.archive([.init(name: "a", data: [1], flags: 1)]))
        }
    }

    @Test func refusesZipBombs() {
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        #expect { try parseZip(ZipTestBytes.archive([.init(name: "bomb", data: zeros, deflate: true)])) } throws: {
            if case .compressionRatioTooHigh(entry: "bomb", _, uncompressed: 4 << 20, limit: 200) = $0 as? ArchiveError { true } else { false }
        }
        let limits = ArchiveLimits(maxEntryCount: 2, maxEntryByteCount: 100, maxTotalByteCount: 150)
        #expect(throws: ArchiveError.entryTooLarge(entry: "a", byteCount: 101, limit: 100)) {
            try parseZip(ZipTestBytes.archive([.init(name: "a", data: Array(repeating: 1, count: 101))]), limits: limits)
        }
        #expect(throws: ArchiveError.totalTooLarge(limit: 150)) {
            try parseZip(ZipTestBytes.archive([.init(name: "a", data: Array(repeating: 1, count: 100)),
                                               .init(name: "b", data: Array(repeating: 1, count: 51))]), limits: limits)
        }
        #expect(throws: ArchiveError.tooManyEntries(limit: 2)) {
            try parseZip(ZipTestBytes.archive([.init(name: "a"), .init(name: "b"), .init(name: "c")]), limits: limits)
        }
    }

    @Test func inflationStopsAtTheDeclaredSize() throws {
        // The header understates the size to slip past the limits; the stream says otherwise.
        let data = [UInt8](repeating: 7, count: 10_000)
        let bytes = ZipTestBytes.archive([.init(name: "liar", data: data, deflate: true, declaredUncompressed: 10)])
        #expect(throws: ArchiveError.expandsPastDeclaredSize(entry: "liar", declared: 10)) { try zipContents(bytes, "liar") }
        let short = ZipTestBytes.archive([.init(name: "short", data: data, deflate: true, declaredUncompressed: 20_000)])
        #expect(throws: ArchiveError.sizeMismatch(entry: "short", declared: 20_000, actual: 10_000)) {
            try zipContents(short, "short")
        }
    }

    @Test func verifiesCRC() {
        let bytes = ZipTestBytes.archive([.init(name: "a", data: [1, 2, 3], crc: 0x1234_5678)])
        #expect(throws: ArchiveError.checksumMismatch(entry: "a", declared: 0x1234_5678, actual: 0x55BC_801D)) {
            try zipContents(bytes, "a")
        }
    }

    @Test func rejectsDataOutsideTheFileAndOverlaps() {
        #expect(throws: ArchiveError.dataOutsideArchive(entry: "a")) {
            try parseZip(ZipTestBytes.archive([.init(name: "a", data: [1], localHeaderOffset: 1_000_000)]))
        }
        // "b" is a complete local record hidden inside the data of "a": the reader would inflate
        // the same bytes twice (the overlapping-entry zip bomb).
        let inner = Array(ZipTestBytes.archive([.init(name: "b", data: [1])]).prefix(32))
        #expect(throws: ArchiveError.overlappingEntries("a", "b")) {
            try parseZip(ZipTestBytes.archive([.init(name: "a", data: inner), .init(name: "b", data: [1], localHeaderOffset: 31)]))
        }
    }

    @Test func rejectsTruncatedAndCorruptArchives() {
        let whole = ZipTestBytes.archive([.init(name: "a", data: Array(repeating: 5, count: 1000), deflate: true)])
        for cut in [1, 10, 30, whole.count / 2] {
            #expect(throws: ArchiveError.self) { try parseZip(Array(whole.dropLast(cut))) }
        }
        #expect(throws: ArchiveError.notAnArchive(reason: "5 bytes is too small for a zip file")) { try parseZip([1, 2, 3, 4, 5]) }
        var garbled = whole
        let dataStart = 30 + 1
        for i in dataStart..<(dataStart + 8) { garbled[i] = 0xFF }
        #expect(throws: ArchiveError.self) { try zipContents(garbled, "a") }
    }

    @Test func readsZip64EndRecords() throws {
        // A ZIP64 end record and locator in front of an end record whose fields all overflow.
        var bytes = ZipTestBytes.archive([.init(name: "a", data: [9])])
        let eocd = bytes.count - 22
        let directoryOffset = UInt64(bytes.withUnsafeBytes { $0.littleEndian(UInt32.self, at: eocd + 16)! })
        let directorySize = UInt64(eocd) - directoryOffset
        var tail: [UInt8] = []
        tail.appendLittleEndian(UInt32(0x0606_4b50))
        tail.appendLittleEndian(UInt64(44))
        tail.appendLittleEndian(UInt32(45 | 45 << 16))
        tail.appendLittleEndian(UInt64(0))
        tail.appendLittleEndian(UInt64(1))
        tail.appendLittleEndian(UInt64(1))
        tail.appendLittleEndian(directorySize)
        tail.appendLittleEndian(directoryOffset)
        tail.appendLittleEndian(UInt32(0x0706_4b50))
        tail.appendLittleEndian(UInt32(0))
        tail.appendLittleEndian(UInt64(eocd))
        tail.appendLittleEndian(UInt32(1))
        tail.appendLittleEndian(UInt32(0x0605_4b50))
        tail.appendLittleEndian(UInt32(0))
        tail.appendLittleEndian(UInt16.max)
        tail.appendLittleEndian(UInt16.max)
        tail.appendLittleEndian(UInt32.max)
        tail.appendLittleEndian(UInt32.max)
        tail.appendLittleEndian(UInt16(0))
        bytes = Array(bytes[..<eocd]) + tail
        #expect(try zipContents(bytes, "a") == [9])
    }
}
