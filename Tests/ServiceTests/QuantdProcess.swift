import Foundation
import Glibc
import Synchronization

/// The real `quantd serve` binary as a child process on an ephemeral port, for what only a
/// separate process can show (kill -9, restart on the same data dir). The binary is
/// `$QUANTD_BIN`, else `<repo>/.build/debug/quantd`.
final class QuantdProcess: QuantdEndpoint {
    let process = Process()
    let dataDirectory: String
    let port: Int
    let logPath: String

    static var binary: String {
        ProcessInfo.processInfo.environment["QUANTD_BIN"].map { $0.hasPrefix("/") ? $0 : Repository.root + "/" + $0 }
            ?? Repository.root + "/.build/debug/quantd"
    }

    /// Starts `quantd serve --port 0 --data-dir DIR` plus `--set` flags and waits for the
    /// "quantd listening on http://127.0.0.1:PORT" line.
    init(dataDirectory: String, settings: [String] = [], workingDirectory: String, binary: String = QuantdProcess.binary) throws {
        self.dataDirectory = dataDirectory
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("no quantd binary at \(binary); build it or set QUANTD_BIN")
        }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDirectory] + settings.flatMap { ["--set", $0] }
        // No config/quantd.json there: the built-in defaults plus the flags.
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        logPath = workingDirectory + "/quantd-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()

        let line = Mutex<String?>(nil)
        let seen = DispatchSemaphore(value: 0)
        let reader = stdout.fileHandleForReading
        DispatchQueue.global().async {
            var bytes: [UInt8] = []
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                bytes += data
                if let nl = bytes.firstIndex(of: 10) {
                    line.withLock { $0 = String(decoding: bytes[..<nl], as: UTF8.self) }
                    break
                }
            }
            seen.signal()
        }
        let prefix = "quantd listening on http://127.0.0.1:"
        guard seen.wait(timeout: .now() + 60) == .success, let text = line.withLock({ $0 }), text.hasPrefix(prefix),
              let port = Int(text.dropFirst(prefix.count)) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw TestFailure("quantd did not report its port; log:\n\(log)")
        }
        self.port = port
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGKILL: no shutdown code runs, as in a crash or an OOM kill.
    func killHard() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM and wait: the graceful path.
    func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }

    deinit { killHard() }
}
