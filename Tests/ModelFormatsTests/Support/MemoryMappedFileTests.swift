import Testing
import ModelFormats

@Suite struct MemoryMappedFileTests {
    @Test(arguments: MemoryMappedFile.AccessPattern.allCases)
    func mapsTheWholeFile(pattern: MemoryMappedFile.AccessPattern) throws {
        let content = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
        try withTemporaryDirectory { directory in
            let path = directory + "/data"
            try writeFile(content, to: path)
            let mapping = try MemoryMappedFile(path: path, accessPattern: pattern)
            #expect(mapping.byteCount == content.count)
            #expect(mapping.withBytes { Array($0) } == content)
        }
    }

    @Test func mapsAnEmptyFileAsNoBytes() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/empty"
            try writeFile([], to: path)
            let mapping = try MemoryMappedFile(path: path)
            #expect(mapping.withBytes { $0.count } == 0)
        }
    }

    @Test func rejectsDirectoriesAndMissingFiles() throws {
        try withTemporaryDirectory { directory in
            #expect(throws: FileAccessError.notARegularFile(path: directory)) {
                try MemoryMappedFile(path: directory)
            }
            #expect(throws: FileAccessError.self) {
                try MemoryMappedFile(path: directory + "/missing")
            }
        }
    }
}

extension MemoryMappedFileTests {
    /// Released pages leave this process's memory but read back unchanged from the file.
    @Test(arguments: [0..<100_000, 5000..<70_000, 0..<1, 99_999..<100_000])
    func releasedPagesReadBackUnchanged(range: Range<Int>) throws {
        let content = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try withTemporaryDirectory { directory in
            let path = directory + "/data"
            try writeFile(content, to: path)
            let mapping = try MemoryMappedFile(path: path)
            #expect(mapping.withBytes { Array($0) } == content)
            mapping.releasePages(range)
            #expect(mapping.withBytes { Array($0) } == content)
        }
    }
}
