#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory per test, removed with its contents when the test's closure returns.
func withTemporaryDirectory<Result>(_ body: (String) throws -> Result) throws -> Result {
    var template = Array("/tmp/modelformats-test-XXXXXX".utf8CString)
    guard let created = mkdtemp(&template) else { throw TestFileError(call: "mkdtemp") }
    let directory = String(cString: created)
    defer { removeDirectory(directory) }
    return try body(directory)
}

func writeFile(_ bytes: [UInt8], to path: String) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { throw TestFileError(call: "open") }
    defer { close(descriptor) }
    guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
        throw TestFileError(call: "write")
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { throw TestFileError(call: "open") }
    defer { close(descriptor) }
    return try readAll(from: descriptor)
}

/// Reads until end of file.
func readAll(from descriptor: Int32) throws -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw TestFileError(call: "read") }
        if count == 0 { return bytes }
        bytes.append(contentsOf: chunk[..<count])
    }
}

/// Opens `path` for writing, runs `body` with the descriptor, and closes it.
func withOutputFile<Result>(_ path: String, _ body: (Int32) throws -> Result) throws -> Result {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { throw TestFileError(call: "open") }
    defer { close(descriptor) }
    return try body(descriptor)
}

struct TestFileError: Error {
    let call: String
    let code = errno
}

private func removeDirectory(_ directory: String) {
    guard let stream = opendir(directory) else { return }
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { unlink(directory + "/" + name) }
    }
    closedir(stream)
    rmdir(directory)
}
