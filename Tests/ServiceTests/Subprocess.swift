import Foundation

/// Runs a program to completion: stdout captured, stderr captured through a file (so a chatty
/// program cannot block on a full pipe), optional stdin from a file.
struct SubprocessResult {
    var exitCode: Int32
    var stdout: [UInt8]
    var stderr: String
}

enum Subprocess {
    static func run(_ program: String, _ arguments: [String], in directory: String? = nil,
                    stdinFile: String? = nil) throws -> SubprocessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try locate(program))
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let stdout = Pipe()
        process.standardOutput = stdout
        let errPath = NSTemporaryDirectory() + "quantd-it-stderr-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardError = errHandle
        if let stdinFile { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinFile)) }
        try process.run()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errHandle.close()
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return SubprocessResult(exitCode: process.terminationStatus, stdout: Array(out), stderr: err)
    }

    /// The absolute path of a program on PATH.
    static func locate(_ program: String) throws -> String {
        if program.hasPrefix("/") { return program }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: program])
    }

    /// `gzip -dc FILE`: the decompressed bytes, as any gunzip reads them.
    static func gunzip(_ path: String) throws -> [UInt8] {
        let result = try run("gzip", ["-dc", path])
        guard result.exitCode == 0 else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "gzip -dc \(path) failed: \(result.stderr)"])
        }
        return result.stdout
    }
}
