import Estimation
import Foundation

/// Finds and reads `devices.json`: the configured path, else beside the working directory,
/// the executable or the system install.
public enum DeviceCatalogFile {
    public static func load(_ configured: String) throws -> DeviceCatalog {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = configured.isEmpty
            ? ["config/devices.json", executable.appendingPathComponent("../../config/devices.json").standardized.path,
               "/etc/quantd/devices.json"]
            : [configured]
        for path in candidates {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            do { return try DeviceCatalog(json: data) } catch {
                throw Problem.invalidRequest("\(path) is not a valid device catalog: \(error)")
            }
        }
        throw Problem.invalidRequest("no device catalog found (looked for \(candidates.joined(separator: ", "))); set estimation.devices_path")
    }
}
