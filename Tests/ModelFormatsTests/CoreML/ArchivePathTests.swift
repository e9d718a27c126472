import Testing
@testable import ModelFormats

@Suite struct ArchivePathTests {
    @Test func acceptsRelativePathsAndDropsADirectorySlash() throws {
        #expect(try ArchivePath.validated("a/b.bin") == "a/b.bin")
        #expect(try ArchivePath.validated("My Model.mlpackage/") == "My Model.mlpackage")
        #expect(try ArchivePath.validated("a/..b/c..") == "a/..b/c..")
    }

    @Test(arguments: [("..", "it has a '..' component"), ("a/./b", "it has a '.' component"), ("/a", "it is absolute"),
                      ("a\\b", "it contains a backslash"), ("a\u{0}", "it contains a NUL byte"), ("/", "it is empty"),
                      ("a//", "it has an empty component")])
    func rejects(name: String, reason: String) {
        #expect(throws: ArchiveError.unsafePath(name, reason: reason)) { try ArchivePath.validated(name) }
    }
}
