import Testing
@testable import ModelFormats

private func parseTar(_ bytes: [UInt8], limits: ArchiveLimits = ArchiveLimits()) throws -> TarArchive {
    try bytes.withUnsafeBytes { try TarArchive(parsing: $0, limits: limits) }
}

private func pax(_ key: String, _ value: String) -> String {
    let body = " \(key)=\(value)\n"
    var length = body.utf8.count + 1
    while String(length).count + body.utf8.count != length { length += 1 }
    return "\(length)\(body)"
}

@Suite struct TarArchiveTests {
    @Test func readsFilesDirectoriesAndLongNames() throws {
        let long = String(repeating: "d", count: 120) + "/weight.bin"
        let bytes = tar(
            member("pkg/", [], type: UInt8(ascii: "5")),
            member("Manifest.json", Array("{}".utf8), prefix: "pkg"),
            member("././@LongLink", Array(long.utf8) + [0], type: UInt8(ascii: "L")),
            member("truncated-name", [1, 2, 3]),
            member("PaxHeader", Array(pax("path", "pkg/pax-name").utf8), type: UInt8(ascii: "x")),
            member("short", [4]))
        let archive = try parseTar(bytes)
        #expect(archive.entries.map(\.path) == ["pkg", "pkg/Manifest.json", long, "pkg/pax-name"])
        #expect(archive.entries.map(\.isDirectory) == [true, false, false, false])
        let entry = archive.entry(at: long)!
        #expect(Array(bytes[entry.dataRange]) == [1, 2, 3])
        #expect(Array(bytes[archive.entry(at: "pkg/Manifest.json")!.dataRange]) == Array("{}".utf8))
    }

    @Test func rejectsUnsafePathsLinksAndDuplicates() {
        #expect { try parseTar(tar(member("../evil", [1]))) } throws: {
            if case .unsafePath = $0 as? ArchiveError { true } else { false }
        }
        #expect { try parseTar(tar(member("PaxHeader", Array(pax("path", "/etc/x").utf8), type: UInt8(ascii: "x")), member("ok", [1]))) } throws: {
            if case .unsafePath("/etc/x", _) = $0 as? ArchiveError { true } else { false }
        }
        #expect(throws: ArchiveError.unsupportedEntryType(entry: "link", type: "symbolic link")) {
            try parseTar(tar(member("link", [], type: UInt8(ascii: "2"))))
        }
        #expect(throws: ArchiveError.unsupportedEntryType(entry: "hard", type: "hard link")) {
            try parseTar(tar(member("hard", [], type: UInt8(ascii: "1"))))
        }
        #expect(throws: ArchiveError.duplicateEntry("a")) { try parseTar(tar(member("a", [1]), member("a", [2]))) }
    }

    @Test func enforcesLimitsAndBounds() {
        let limits = ArchiveLimits(maxEntryCount: 1, maxEntryByteCount: 2, maxTotalByteCount: 3)
        #expect(throws: ArchiveError.entryTooLarge(entry: "a", byteCount: 3, limit: 2)) {
            try parseTar(tar(member("a", [1, 2, 3])), limits: limits)
        }
        #expect(throws: ArchiveError.tooManyEntries(limit: 1)) { try parseTar(tar(member("a", [1]), member("b", [1])), limits: limits) }
        // A size field that claims more than the file holds.
        let lying = tarHeader("big", size: 1 << 30) + Array(repeating: 0, count: 1024)
        #expect(throws: ArchiveError.dataOutsideArchive(entry: "big")) { try parseTar(lying) }
        #expect(throws: ArchiveError.truncated(what: "the header at byte 1024")) { try parseTar(member("a", [1])) }
    }

    @Test func verifiesTheHeaderChecksum() {
        var bytes = tar(member("a", [1]))
        bytes[0] = UInt8(ascii: "b")
        #expect { try parseTar(bytes) } throws: {
            if case .corrupt(entry: nil, _) = $0 as? ArchiveError { true } else { false }
        }
    }

    /// Found by FuzzTarArchive: a base-256 marker in the 8-byte checksum field trapped (a
    /// prefix of negative length) instead of reading the 7 bytes after it.
    @Test func readsBase256InAnEightByteField() throws {
        var crashing = [UInt8](repeating: 0, count: 512)
        crashing[148] = 0x80
        #expect { try parseTar(crashing) } throws: {
            if case .corrupt(entry: nil, _) = $0 as? ArchiveError { true } else { false }
        }

        var header = tarHeader("a")
        let sum = header.enumerated().reduce(0) { $0 + Int((148..<156).contains($1.offset) ? 0x20 : $1.element) }
        header.replaceSubrange(148..<156, with: [0x80, 0, 0, 0, 0, 0, UInt8(sum >> 8), UInt8(sum & 0xFF)])
        #expect(try parseTar(header + Array(repeating: 0, count: 1024)).entries.map(\.path) == ["a"])

        let size: [UInt8] = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02]
        #expect(size.withUnsafeBytes { TarArchive.number($0, 0, 12) } == 0x102)
        #expect((size[..<3] + [0x01] + size[4...]).withUnsafeBytes { TarArchive.number($0, 0, 12) } == nil)
    }
}
