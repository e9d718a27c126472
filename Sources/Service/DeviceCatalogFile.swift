import Estimation
import Foundation

/// Finds and reads `devices.json`: the configured path, else `config/devices.json` in the
/// working directory or in a directory above the executable (a checkout's `.build/…/quantd`),
/// else the system install.
public enum DeviceCatalogFile {
    public static func load(_ configured: String) throws -> DeviceCatalog {
        var candidates = [configured]
        if configured.isEmpty {
            candidates = ["config/devices.json"]
            var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<6 {
                candidates.append(directory.appendingPathComponent("config/devices.json").path)
                directory = directory.deletingLastPathComponent()
            }
            candidates.append("/etc/quantd/devices.json")
        }
        for path in candidates {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            do { return try DeviceCatalog(json: data) } catch {
                throw Problem.invalidRequest("\(path) is not a valid device catalog: \(error)")
            }
        }
        throw Problem.invalidRequest("no device catalog found (looked for \(candidates.joined(separator: ", "))); set estimation.devices_path")
    }
}
