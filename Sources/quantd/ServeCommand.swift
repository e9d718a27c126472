import ArgumentParser
import Dispatch
import Foundation
import Logging
import Service

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP service.",
        discussion: "Settings come from the config file, then QUANTD_* environment variables, then --set flags.")

    @Option(name: .long, help: "Path of the JSON config file (default: config/quantd.json if it exists).")
    var config: String?

    @Option(name: .long, help: "Override one setting, e.g. --set server.port=9090 (repeatable).")
    var set: [String] = []

    @Option(name: .long, help: "Shortcut for --set server.port=N.")
    var port: Int?

    @Option(name: .long, help: "Shortcut for --set storage.data_dir=PATH.")
    var dataDir: String?

    mutating func run() throws {
        var overrides: [String: String] = [:]
        for item in set {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw ValidationError("--set takes KEY=VALUE, got '\(item)'") }
            overrides[String(kv[0])] = String(kv[1])
        }
        if let port { overrides["server.port"] = String(port) }
        if let dataDir { overrides["storage.data_dir"] = dataDir }
        let file = config ?? (FileManager.default.fileExists(atPath: "config/quantd.json") ? "config/quantd.json" : nil)
        let settings: Configuration
        let service: QuantdService
        do {
            settings = try Configuration.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: overrides)
            let level = Logger.Level(rawValue: settings.logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            service = try QuantdService(config: settings, logger: Logger(label: "quantd"))
            try service.start()
        } catch {
            // A start-up failure is one line saying what to set or fix, not a type dump.
            FileHandle.standardError.write(Data("quantd: cannot start: \(error)\n".utf8))
            throw ExitCode.failure
        }
        // Port 0 picks an ephemeral port: print it where scripts can read it.
        FileHandle.standardOutput.write(Data("quantd listening on \(service.url)\n".utf8))
        let reload = Self.onHangup {
            do { try service.reloadTLS() } catch {
                FileHandle.standardError.write(Data("quantd: TLS reload failed, keeping the current certificate: \(error)\n".utf8))
            }
        }
        waitForTermination()
        reload.cancel()
        service.shutdown()
    }

    /// Runs `action` on every SIGHUP (on a queue, not in a signal handler).
    private static func onHangup(_ action: @escaping @Sendable () -> Void) -> DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
        return source
    }

    /// Blocks until SIGTERM or SIGINT; the signal is handled on a queue, not in a handler.
    private func waitForTermination() {
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        sources.forEach { $0.cancel() }
    }
}
