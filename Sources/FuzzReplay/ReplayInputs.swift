import Foundation

/// libFuzzer's signature for the function under test (`LLVMFuzzerTestOneInput`).
public typealias FuzzTest = @convention(c) (UnsafePointer<UInt8>, Int) -> Int32

/// The main of a fuzz target built without libFuzzer (as `swift build` builds it): runs `test`
/// once on each file named on the command line, or on every file of a named directory, so a
/// corpus or a crash input replays as a regression run in any build. Built for fuzzing
/// (scripts/fuzz), a target has no main of its own and libFuzzer's runs instead.
public func replayInputs(through test: FuzzTest) -> Never {
    let paths = CommandLine.arguments.dropFirst()
    guard !paths.isEmpty else {
        FileHandle.standardError.write(Data("usage: \(CommandLine.arguments[0]) FILE_OR_DIRECTORY...\n".utf8))
        exit(2)
    }
    var count = 0
    for path in paths {
        do {
            for file in try inputFiles(at: path) {
                // One spare byte, so even an empty input has an address to pass, as libFuzzer's do.
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file))) + [0]
                _ = bytes.withUnsafeBufferPointer { test($0.baseAddress!, $0.count - 1) }
                count += 1
            }
        } catch {
            FileHandle.standardError.write(Data("\(path): \(error)\n".utf8))
            exit(1)
        }
    }
    print("replayed \(count) inputs")
    exit(0)
}

/// `path` itself, or the regular files directly inside it when it is a directory (libFuzzer
/// corpora are flat), in name order so a run is repeatable.
private func inputFiles(at path: String) throws -> [String] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw NoSuchFile() }
    guard isDirectory.boolValue else { return [path] }
    return try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }.filter { file in
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}

private struct NoSuchFile: Error, CustomStringConvertible {
    var description: String { "no such file or directory" }
}
