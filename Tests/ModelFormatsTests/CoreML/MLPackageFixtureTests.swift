import Foundation
import Testing
import QuantCore
@testable import ModelFormats

/// The readers and the blob writer against packages coremltools itself makes, zipped by
/// `zip -r` and tarred by Python: `Tests/oracle/fixtures/make_mlpackages.py` builds them into a
/// temporary directory with the oracle virtualenv (`scripts/test` creates `.venv`;
/// `QUANTD_ORACLE_PYTHON` overrides), and records what coremltools' own blob reader sees.
/// Without that virtualenv the test fails (it does not skip): `scripts/test` makes it.
@Suite struct MLPackageFixtureTests {
    @Test func readsEveryPackageCoreMLToolsMakes() throws {
        let directory = try FixturePackages.shared.get()
        for variant in FixturePackages.variants {
            let expected = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(variant).json"))) as! [String: Any]
            let onDisk = try readFile("\(directory)/\(variant).mlpackage/Data/com.apple.CoreML/weights/weight.bin")
            for (archive, prefix) in [("\(variant).zip", "\(variant).mlpackage/"), ("\(variant)-flat.zip", "")] {
                let weights = try weightsFromZip("\(directory)/\(archive)", expectedPrefix: prefix, rootModel: expected["root_model"] as! String)
                #expect(weights == onDisk, "\(archive)")
            }
            #expect(try weightsFromTar("\(directory)/\(variant).tar") == onDisk)
            try checkBlobs(onDisk, expected: expected["blobs"] as! [[String: Any]], variant: variant)
        }
    }

    private func weightsFromZip(_ path: String, expectedPrefix: String, rootModel: String) throws -> [UInt8] {
        let file = try MemoryMappedFile(path: path)
        return try file.withBytes { bytes in
            let archive = try ZipArchive(parsing: bytes)
            let files = Dictionary(uniqueKeysWithValues: archive.entries.filter { !$0.isDirectory }.map { ($0.path, $0) })
            let manifest = try archive.contents(of: files[MLPackage<ZipEntry>.manifestPath(in: files.keys)]!, in: bytes)
            let package = try manifest.withUnsafeBytes { try MLPackage(entries: files, manifestJSON: $0) }
            #expect(package.prefix == expectedPrefix)
            #expect(package.rootModelPath == expectedPrefix + rootModel)
            #expect(package.manifest.rootModel.author == "com.apple.CoreML")
            #expect(!(try archive.contents(of: package.rootModel, in: bytes)).isEmpty)
            return try archive.contents(of: package.resolve("@model_path/weights/weight.bin").entry, in: bytes)
        }
    }

    private func weightsFromTar(_ path: String) throws -> [UInt8] {
        let bytes = try readFile(path)
        return try bytes.withUnsafeBytes { buffer in
            let archive = try TarArchive(parsing: buffer)
            let files = Dictionary(uniqueKeysWithValues: archive.entries.filter { !$0.isDirectory }.map { ($0.path, $0) })
            let manifest = files[try MLPackage<TarEntry>.manifestPath(in: files.keys)]!
            let package = try MLPackage(entries: files, manifestJSON: UnsafeRawBufferPointer(rebasing: buffer[manifest.dataRange]))
            return Array(bytes[try package.resolve("@model_path/weights/weight.bin").entry.dataRange])
        }
    }

    /// Every blob the model references, with coremltools' type, count and values; then the
    /// writer, given the same blobs in the same order, must reproduce the file exactly.
    private func checkBlobs(_ weights: [UInt8], expected: [[String: Any]], variant: String) throws {
        let storage = try weights.withUnsafeBytes { try MILBlobStorage(parsing: $0) }
        #expect(storage.blobs.count == expected.count, "\(variant)")
        for reference in expected {
            let offset = (reference["offset"] as! NSNumber).uint64Value
            let values = (reference["values"] as! [NSNumber]).map(\.int64Value)
            let blob = try #require(storage.blob(atMetadataOffset: offset), "\(variant) @\(offset)")
            #expect(blob.dataType == FixturePackages.dataType[reference["type"] as! String], "\(variant) @\(offset)")
            #expect(blob.elementCount == (reference["count"] as! NSNumber).uint64Value, "\(variant) @\(offset)")
            let bits = blob.dataType.bitWidth
            let found: [Int64] = weights.withUnsafeBytes { file in
                let data = UnsafeRawBufferPointer(rebasing: file[blob.dataRange])
                if blob.dataType.isSubByte {
                    return BitPacking.unpack(data, count: values.count, bits: bits).map(Int64.init)
                }
                return (0..<values.count).map { i in
                    (0..<bits / 8).reduce(Int64(0)) { $0 | Int64(data[i * bits / 8 + $1]) << (8 * $1) }
                }
            }
            // Signed codes are compared as the bit patterns they are stored as.
            let mask = bits == 64 ? -1 : (Int64(1) << bits) - 1
            #expect(found == values.map { $0 & mask }, "\(variant) @\(offset)")
        }
        var writer = MILBlobStorageWriter()
        for blob in storage.blobs {
            _ = weights.withUnsafeBytes { writer.append(blob.dataType, data: UnsafeRawBufferPointer(rebasing: $0[blob.dataRange]), paddingBits: blob.paddingBits) }
        }
        #expect(writer.bytes == weights, "\(variant): rewritten weight.bin differs")
    }
}

/// Runs the fixture script once per test process.
enum FixturePackages {
    static let variants = ["ios16_fp16", "ios16_int8", "ios16_palettized4", "ios18_fp16", "ios18_palettized3", "ios18_int4"]
    /// MIL proto type names → blob codes, so a wrong code in `MILBlobDataType` fails here.
    static let dataType: [String: MILBlobDataType] = [
        "FLOAT16": .float16, "FLOAT32": .float32, "UINT8": .uint8, "INT8": .int8, "INT4": .int4,
        "UINT1": .uint1, "UINT2": .uint2, "UINT3": .uint3, "UINT4": .uint4, "UINT6": .uint6,
        "INT16": .int16, "UINT16": .uint16, "INT32": .int32, "UINT32": .uint32,
    ]
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let python = ProcessInfo.processInfo.environment["QUANTD_ORACLE_PYTHON"] ?? repository + "/.venv/bin/python"

    static let shared = Result { () throws -> String in
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFileError(call: "\(python) missing: run scripts/test, which creates the oracle virtualenv")
        }
        let directory = NSTemporaryDirectory() + "quantd-mlpackage-" + UUID().uuidString
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [repository + "/Tests/oracle/fixtures/make_mlpackages.py", directory]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFileError(call: "make_mlpackages.py") }
        return directory
    }
}
