import Foundation
import ModelFormats

/// Zipped `.mlpackage` bytes made in memory, broken in the ways uploads break.
enum PackageFixture {
    static let manifest = #"""
    {"fileFormatVersion": "1.0.0", "itemInfoEntries": {"A": {"author": "com.apple.CoreML",
     "description": "CoreML Model Specification", "name": "model.mlmodel", "path": "com.apple.CoreML/model.mlmodel"}},
     "rootModelIdentifier": "A"}
    """#

    /// A zip of `files` (path → contents), stored.
    static func zip(_ files: [(String, [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = []
        withoutActuallyEscaping({ (piece: UnsafeRawBufferPointer) in bytes += piece }) { output in
            var writer = ZipWriter(output: output)
            for (path, contents) in files {
                try! contents.withUnsafeBytes { try writer.addFile(path, contents: $0) }
            }
            try! writer.finish()
        }
        return bytes
    }

    /// A package whose model file holds `model` bytes.
    static func package(model: [UInt8]) -> [UInt8] {
        zip([("net.mlpackage/Manifest.json", Array(manifest.utf8)),
             ("net.mlpackage/Data/com.apple.CoreML/model.mlmodel", model)])
    }

    /// A zip whose one entry climbs out of the extraction folder. ZipWriter refuses such
    /// names, so the name is patched in afterwards (same length, both headers).
    static func zipSlip() -> [UInt8] {
        var bytes = zip([("aa/Manifest.json", Array(manifest.utf8))])
        let safe = Array("aa/Manifest.json".utf8), evil = Array("../Manifest.json".utf8)
        var index = 0
        while index + safe.count <= bytes.count {
            if Array(bytes[index..<(index + safe.count)]) == safe {
                bytes.replaceSubrange(index..<(index + safe.count), with: evil)
            }
            index += 1
        }
        return bytes
    }
}
