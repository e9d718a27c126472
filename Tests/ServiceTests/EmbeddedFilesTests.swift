import Foundation
import Testing
@testable import Service

/// The device catalog and the API contract are compiled into the binary (scripts/generate-embedded):
/// the copies must be the files in the repository, and a copied binary must serve them.
@Suite struct EmbeddedFilesTests {
    @Test func theBuiltInCopiesAreTheRepositorysFiles() throws {
        let devices = try String(contentsOfFile: Repository.root + "/config/devices.json", encoding: .utf8)
        let openapi = try String(contentsOfFile: Repository.root + "/openapi.yaml", encoding: .utf8)
        #expect(EmbeddedDeviceCatalog.json + "\n" == devices, "config/devices.json changed: run scripts/generate-embedded")
        #expect(EmbeddedOpenAPI.yaml + "\n" == openapi, "openapi.yaml changed: run scripts/generate-embedded")
    }

    /// As an install into /usr/local/bin, a service unit or a slim container runs it: the binary
    /// alone, in an empty folder, started from another empty folder.
    @Test func aCopiedBinaryStartsAndServesItsCatalogAndContract() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for dir in ["bin", "work"] { try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: QuantdProcess.binary, toPath: root + "/bin/quantd")
        let server = try QuantdProcess(dataDirectory: root + "/data", workingDirectory: root + "/work", binary: root + "/bin/quantd")
        defer { server.terminate() }
        let spec = try server.get("/openapi.yaml")
        #expect(spec.status == 200)
        #expect(spec.body == Array(try Data(contentsOf: URL(fileURLWithPath: Repository.root + "/openapi.yaml"))))
        let devices = try server.get("/v1/devices")
        #expect(devices.status == 200)
        #expect((devices.json["devices"] as? [Any])?.isEmpty == false, "\(devices.text)")
    }

    /// A setting that points nowhere stops the start with one plain line naming the setting.
    @Test(arguments: [("estimation.devices_path", "estimation.devices_path"), ("openapi.path", "openapi.path")])
    func aMissingOverrideFileIsOnePlainStartUpError(setting: String, named: String) throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try Subprocess.run(QuantdProcess.binary, ["serve", "--port", "0", "--data-dir", root + "/data",
                                                                "--set", "\(setting)=\(root)/missing"], in: root)
        #expect(result.exitCode == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(named) && result.stderr.contains("\(root)/missing"), "\(result.stderr)")
        #expect(!result.stderr.contains("Problem("), "\(result.stderr)")
    }
}
