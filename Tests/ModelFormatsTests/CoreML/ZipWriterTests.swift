import Testing
@testable import ModelFormats

@Suite struct ZipWriterTests {
    private func written(_ body: (inout ZipWriter) throws -> Void) throws -> [UInt8] {
        var output: [UInt8] = []
        var writer = ZipWriter { output.append(contentsOf: $0) }
        try body(&writer)
        try writer.finish()
        return output
    }

    @Test func roundTripsThroughTheReader() throws {
        let weights = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        let bytes = try written { writer in
            try writer.addDirectory("x.mlpackage")
            try Array("{}".utf8).withUnsafeBytes { try writer.addFile("x.mlpackage/Manifest.json", contents: $0) }
            try weights.withUnsafeBytes { try writer.addFile("x.mlpackage/é.bin", contents: $0) }
        }
        let archive = try parseZip(bytes)
        #expect(archive.entries.map(\.path) == ["x.mlpackage", "x.mlpackage/Manifest.json", "x.mlpackage/é.bin"])
        #expect(archive.entries[0].isDirectory)
        #expect(try zipContents(bytes, "x.mlpackage/é.bin") == weights)
        #expect(try zipContents(bytes, "x.mlpackage/Manifest.json") == Array("{}".utf8))
    }

    /// A file written from pieces is the file written whole: same CRC, size and bytes.
    @Test func piecesWriteTheSameArchiveAsTheJoinedContents() throws {
        let pieces: [[UInt8]] = [[1, 2, 3], [], (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }, [9]]
        let whole = try written { writer in try pieces.joined().map { $0 }.withUnsafeBytes { try writer.addFile("w.bin", contents: $0) } }
        let fromPieces = try written { writer in try writer.addFile("w.bin", pieces: pieces) }
        #expect(fromPieces == whole)
        #expect(try zipContents(fromPieces, "w.bin") == Array(pieces.joined()))
    }

    @Test func isDeterministic() throws {
        let make = { try self.written { writer in try [UInt8]([1, 2]).withUnsafeBytes { try writer.addFile("a", contents: $0) } } }
        #expect(try make() == make())
    }

    @Test func refusesBadNamesAndDuplicates() throws {
        var writer = ZipWriter { _ in }
        #expect(throws: ArchiveError.self) { try writer.addFile("../x", contents: UnsafeRawBufferPointer(start: nil, count: 0)) }
        #expect(throws: ZipWriterError.fileNameEndsWithSlash("d/")) {
            try writer.addFile("d/", contents: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        try writer.addDirectory("d")
        #expect(throws: ZipWriterError.duplicateEntry("d/")) { try writer.addDirectory("d/") }
    }

    @Test func writesToAFileDescriptor() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/out.zip"
            try withOutputFile(path) { descriptor in
                try ZipWriter.writing(toFileDescriptor: descriptor) { writer in
                    try [UInt8]([7, 8]).withUnsafeBytes { try writer.addFile("a", contents: $0) }
                    try writer.finish()
                }
            }
            #expect(try zipContents(readFile(path), "a") == [7, 8])
        }
    }
}
