import Foundation
import Testing
@testable import ModelFormats

private let uuid = "4C2B0C5A-0E5B-4A53-9C3D-1A2B3C4D5E6F"
private let manifest = """
    {"fileFormatVersion": "1.0.0", "itemInfoEntries": {"\(uuid)": {"author": "com.apple.CoreML",
    "description": "CoreML Model Specification", "name": "model.mlmodel", "path": "com.apple.CoreML/model.mlmodel",
    "extra": [1, {"x": null}, true]}}, "rootModelIdentifier": "\(uuid)"}
    """

private func package(_ paths: [String], manifest: String = manifest) throws -> MLPackage<Int> {
    let entries = Dictionary(uniqueKeysWithValues: paths.enumerated().map { ($1, $0) })
    return try Array(manifest.utf8).withUnsafeBytes { try MLPackage(entries: entries, manifestJSON: $0) }
}

@Suite struct MLPackageTests {
    private let flat = ["Manifest.json", "Data", "Data/com.apple.CoreML/model.mlmodel", "Data/com.apple.CoreML/weights/weight.bin"]

    @Test func resolvesTheRootModelAndWeights() throws {
        let resolved = try package(flat)
        #expect(resolved.prefix == "")
        #expect(resolved.manifest.fileFormatVersion == "1.0.0")
        #expect(resolved.manifest.rootModel.name == "model.mlmodel")
        #expect(resolved.rootModelPath == "Data/com.apple.CoreML/model.mlmodel")
        #expect(resolved.rootModel == 2)
        #expect(resolved.modelDirectory == "Data/com.apple.CoreML/")
        #expect(try resolved.resolve("@model_path/weights/weight.bin") == ("Data/com.apple.CoreML/weights/weight.bin", 3))
    }

    @Test func detectsATopLevelFolder() throws {
        let resolved = try package(flat.map { "My Model.mlpackage/" + $0 } + ["__MACOSX/My Model.mlpackage/._Manifest.json"])
        #expect(resolved.prefix == "My Model.mlpackage/")
        #expect(try resolved.resolve("@model_path/weights/weight.bin").path == "My Model.mlpackage/Data/com.apple.CoreML/weights/weight.bin")
    }

    @Test func saysWhatIsWrong() {
        #expect(throws: MLPackageError.manifestMissing) { try package(["a/b/Manifest.json"]) }
        #expect(throws: MLPackageError.ambiguousManifest(["Manifest.json", "b.mlpackage/Manifest.json"])) {
            try package(["Manifest.json", "b.mlpackage/Manifest.json"])
        }
        #expect(throws: MLPackageError.modelFileMissing("Data/com.apple.CoreML/model.mlmodel")) { try package(["Manifest.json"]) }
        #expect(throws: MLPackageError.rootModelNotListed("other", listed: [uuid])) {
            try package(flat, manifest: manifest.replacingOccurrences(of: "\"rootModelIdentifier\": \"\(uuid)\"", with: "\"rootModelIdentifier\": \"other\""))
        }
        #expect(throws: MLPackageError.unsafeItemPath("../model.mlmodel")) {
            try package(flat, manifest: manifest.replacingOccurrences(of: "com.apple.CoreML/model.mlmodel", with: "../model.mlmodel"))
        }
        #expect { try package(flat, manifest: "{\"itemInfoEntries\": {}") } throws: {
            if case .invalidManifest(let reason) = $0 as? MLPackageError { reason.contains("invalid JSON") } else { false }
        }
        #expect(throws: MLPackageError.invalidManifest("it has no 'rootModelIdentifier'")) {
            try package(flat, manifest: "{\"itemInfoEntries\": {}}")
        }
        let resolved = try? package(flat)
        #expect(throws: MLPackageError.notRelativeToModel("@model_path/../x")) { try resolved?.resolve("@model_path/../x") }
        #expect(throws: MLPackageError.notRelativeToModel("/abs/weight.bin")) { try resolved?.resolve("/abs/weight.bin") }
        #expect(throws: MLPackageError.referencedFileMissing(reference: "@model_path/w.bin", path: "Data/com.apple.CoreML/w.bin")) {
            try resolved?.resolve("@model_path/w.bin")
        }
    }
}
