import Estimation
import Foundation

/// The device catalog the estimators use: the file `estimation.devices_path` names, else the
/// copy of `config/devices.json` compiled into the binary, so a quantd copied anywhere has it.
public enum DeviceCatalogFile {
    public static func load(_ configured: String) throws -> DeviceCatalog {
        guard !configured.isEmpty else {
            do { return try DeviceCatalog(json: Data(EmbeddedDeviceCatalog.json.utf8)) } catch {
                throw StartupError("the built-in device catalog is invalid (\(error)); set estimation.devices_path to a valid devices.json")
            }
        }
        guard let data = FileManager.default.contents(atPath: configured) else {
            throw StartupError("cannot read the device catalog \(configured); fix estimation.devices_path, or leave it empty for the built-in catalog")
        }
        do { return try DeviceCatalog(json: data) } catch {
            throw StartupError("\(configured) is not a valid device catalog (\(error)); fix it, or leave estimation.devices_path empty for the built-in catalog")
        }
    }
}
