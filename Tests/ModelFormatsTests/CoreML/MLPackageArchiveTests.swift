import Testing
@testable import ModelFormats

private let uuid = "9A1C3F2E-5B7D-4E60-8F11-2233445566AA"
private let manifest = Array("""
    {"fileFormatVersion": "1.0.0", "itemInfoEntries": {"\(uuid)": {"author": "com.apple.CoreML",
    "description": "CoreML Model Specification", "name": "model.mlmodel", "path": "com.apple.CoreML/model.mlmodel"}},
    "rootModelIdentifier": "\(uuid)"}
    """.utf8)

/// A tiny package inside a top-level folder, as `zip -r` and `tar c` of an .mlpackage give it.
private let files: [(path: String, contents: [UInt8])] = [
    ("m.mlpackage/Manifest.json", manifest),
    ("m.mlpackage/Data/com.apple.CoreML/model.mlmodel", [0x08, 0x07]),
    ("m.mlpackage/Data/com.apple.CoreML/weights/weight.bin", (0..<700).map { UInt8(truncatingIfNeeded: $0) }),
]
private let directories = ["m.mlpackage", "m.mlpackage/Data", "m.mlpackage/Data/com.apple.CoreML",
                           "m.mlpackage/Data/com.apple.CoreML/weights"]

private func zipped(_ files: [(path: String, contents: [UInt8])]) throws -> [UInt8] {
    var output: [UInt8] = []
    var writer = ZipWriter { output.append(contentsOf: $0) }
    for directory in directories { try writer.addDirectory(directory) }
    for file in files { try file.contents.withUnsafeBytes { try writer.addFile(file.path, contents: $0) } }
    try writer.finish()
    return output
}

private func tarred(_ files: [(path: String, contents: [UInt8])]) -> [UInt8] {
    let members = directories.map { member($0 + "/", [], type: UInt8(ascii: "5")) } + files.map { member($0.path, $0.contents) }
    return members.flatMap { $0 } + tar()
}

/// The two containers an .mlpackage may be uploaded in.
enum PackageContainer: CaseIterable, Sendable {
    case zip, tar

    func archive(_ files: [(path: String, contents: [UInt8])]) throws -> [UInt8] {
        switch self {
        case .zip: try zipped(files)
        case .tar: tarred(files)
        }
    }
}

private func openPackage(_ bytes: [UInt8]) throws -> MLPackageArchive {
    try bytes.withUnsafeBytes { try MLPackageArchive(bytes: $0) }
}

@Suite struct MLPackageArchiveTests {
    @Test(arguments: PackageContainer.allCases)
    func readsAPackage(container: PackageContainer) throws {
        let bytes = try container.archive(files)
        let archive = try openPackage(bytes)
        #expect(archive.package.rootModelPath == "m.mlpackage/Data/com.apple.CoreML/model.mlmodel")
        #expect(archive.package.prefix == "m.mlpackage/")
        // Directories are not files.
        #expect(archive.filePaths == files.map(\.path))
        for file in files {
            #expect(try bytes.withUnsafeBytes { try archive.contents(of: file.path, in: $0) } == file.contents, "\(file.path)")
        }
        #expect(try archive.package.resolve("@model_path/weights/weight.bin").path == files[2].path)
    }

    @Test func zipAndTarOfOnePackageAgree() throws {
        let zipBytes = try zipped(files)
        let tarBytes = tarred(files)
        let fromZip = try openPackage(zipBytes)
        let fromTar = try openPackage(tarBytes)
        #expect(fromZip.package.rootModelPath == fromTar.package.rootModelPath)
        #expect(fromZip.filePaths == fromTar.filePaths)
        for path in fromZip.filePaths {
            let inZip = try zipBytes.withUnsafeBytes { try fromZip.contents(of: path, in: $0) }
            let inTar = try tarBytes.withUnsafeBytes { try fromTar.contents(of: path, in: $0) }
            #expect(inZip == inTar, "\(path)")
        }
    }

    @Test(arguments: PackageContainer.allCases)
    func aMissingManifestIsAPackageError(container: PackageContainer) throws {
        let bytes = try container.archive(Array(files.dropFirst()))
        #expect { try openPackage(bytes) } throws: {
            if case .package(.manifestMissing) = $0 as? MLPackageArchiveError { true } else { false }
        }
    }

    @Test func aMissingRootModelIsAPackageError() throws {
        let withoutModel = files.filter { !$0.path.hasSuffix("model.mlmodel") }
        #expect { try openPackage(tarred(withoutModel)) } throws: {
            if case .package(.modelFileMissing("m.mlpackage/Data/com.apple.CoreML/model.mlmodel")) = $0 as? MLPackageArchiveError {
                true
            } else {
                false
            }
        }
    }

    @Test func garbageIsAnArchiveError() throws {
        let garbage = (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        // Neither a tar header nor, behind a zip's magic, a zip.
        for bytes in [garbage, [0x50, 0x4B, 0x03, 0x04] + garbage] {
            #expect { try openPackage(bytes) } throws: {
                if case .archive = $0 as? MLPackageArchiveError { true } else { false }
            }
        }
    }
}
