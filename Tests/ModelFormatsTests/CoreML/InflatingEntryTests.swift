import Testing
@testable import ModelFormats

@Suite struct InflatingEntryTests {
    /// Two megabytes of bytes that deflate into many blocks (skewed, so not stored).
    static let contents: [UInt8] = {
        var rng = SplitMix64(seed: 5)
        return (0..<(2 << 20)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 23) }
    }()

    private func inflating(_ entry: ZipTestBytes.Entry, _ body: (InflatingEntry) throws -> Void) throws {
        let bytes = ZipTestBytes.archive([entry])
        let zip = try parseZip(bytes)
        try bytes.withUnsafeBytes { raw in
            let inflating = InflatingEntry(try #require(zip.entry(at: entry.name)), of: zip, in: raw)
            defer { inflating.waitUntilDone() }
            try body(inflating)
        }
    }

    @Test func readersSeeFinalBytesAtEveryPrefixAndTheWholeFileAtTheEnd() throws {
        try inflating(.init(name: "w.bin", data: Self.contents, deflate: true)) { entry in
            #expect(entry.byteCount == Self.contents.count)
            for end in [0, 1, 64, 300_000, 1 << 20, Self.contents.count - 1, Self.contents.count] {
                let bytes = try entry.bytes(decodedThrough: end)
                #expect(Array(bytes[0..<end]) == Array(Self.contents[0..<end]), "prefix \(end)")
            }
            #expect(Array(try entry.finish().bytes) == Self.contents)
        }
    }

    @Test func corruptDeflateFailsEveryReaderPastTheDamageAndTheFinish() throws {
        var entry = ZipTestBytes.Entry(name: "w.bin", data: Self.contents, deflate: true)
        // Claim more than the stream holds: the stream ends before the declared size.
        entry.declaredUncompressed = UInt32(Self.contents.count + 100)
        try inflating(entry) { inflating in
            #expect(throws: ArchiveError.self) { _ = try inflating.bytes(decodedThrough: Self.contents.count + 100) }
            #expect(throws: ArchiveError.self) { _ = try inflating.finish() }
        }
    }

    @Test func aWrongChecksumFailsTheFinish() throws {
        try inflating(.init(name: "w.bin", data: Self.contents, deflate: true, crc: 0xDEAD_BEEF)) { entry in
            #expect(throws: ArchiveError.checksumMismatch(entry: "w.bin", declared: 0xDEAD_BEEF,
                                                          actual: Self.contents.withUnsafeBytes { CRC32.checksum($0) })) {
                _ = try entry.finish()
            }
        }
    }
}
