import CZlib
import Foundation
@testable import ModelFormats

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

    /// A package whose ML Program feeds `x` (float16, [1, 64]) to one linear op per shape in
    /// `weights` (each [channels, 64]), weights float16 in the weight file with values from `seed`.
    static func linearProgram(weights: [Int], opset: String = "CoreML6", specificationVersion: Int32 = 7, seed: UInt64 = 1) -> [UInt8] {
        func tensorType(_ shape: [Int]) -> CoreML_Specification_MILSpec_ValueType {
            .with {
                $0.tensorType = .with {
                    $0.dataType = .float16
                    $0.rank = Int64(shape.count)
                    $0.dimensions = shape.map { size in .with { $0.constant = .with { $0.size = UInt64(size) } } }
                }
            }
        }
        func output(_ name: String, _ shape: [Int]) -> CoreML_Specification_MILSpec_NamedValueType {
            .with { $0.name = name; $0.type = tensorType(shape) }
        }
        func named(_ name: String) -> CoreML_Specification_MILSpec_Argument {
            .with { $0.arguments = [.with { $0.name = name }] }
        }
        var state = seed
        var writer = MILBlobStorageWriter()
        var operations: [CoreML_Specification_MILSpec_Operation] = []
        for (i, channels) in weights.enumerated() {
            // Small float16 values: random mantissas, exponents around 2^-4.
            let halves: [UInt16] = (0..<channels * 64).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return 0x2C00 | UInt16(truncatingIfNeeded: state >> 33) & 0x83FF
            }
            let offset = halves.withUnsafeBytes { writer.append(.float16, data: $0) }
            operations.append(.with {
                $0.type = "const"
                $0.outputs = [output("w\(i)", [channels, 64])]
                $0.attributes = [
                    "name": .with {
                        $0.type = .with { $0.tensorType = .with { $0.dataType = .string } }
                        $0.immediateValue.tensor.strings.values = ["linear_\(i)_weight"]
                    },
                    "val": .with {
                        $0.type = tensorType([channels, 64])
                        $0.blobFileValue = .with { $0.fileName = "@model_path/weights/weight.bin"; $0.offset = offset }
                    },
                ]
            })
            operations.append(.with {
                $0.type = "linear"
                $0.inputs = ["x": named("x"), "weight": named("w\(i)")]
                $0.outputs = [output("y\(i)", [1, channels])]
            })
        }
        let model = CoreML_Specification_Model.with {
            $0.specificationVersion = specificationVersion
            $0.mlProgram = .with {
                $0.version = 1
                $0.functions = ["main": .with {
                    $0.inputs = [output("x", [1, 64])]
                    $0.opset = opset
                    $0.blockSpecializations = [opset: .with {
                        $0.outputs = weights.indices.map { "y\($0)" }
                        $0.operations = operations
                    }]
                }]
            }
        }
        return zip([("net.mlpackage/Manifest.json", Array(manifest.utf8)),
                    ("net.mlpackage/Data/com.apple.CoreML/model.mlmodel", try! model.serializedBytes()),
                    ("net.mlpackage/Data/com.apple.CoreML/weights/weight.bin", writer.bytes)])
    }

    /// `package` (a stored zip) again with every file deflated, as `zip -r` writes it; `crc`
    /// overrides the CRC-32 declared for the file whose name ends in `crcOf`.
    static func deflated(_ package: [UInt8], crcOf: String? = nil, crc: UInt32 = 0) throws -> [UInt8] {
        let archive = try package.withUnsafeBytes { try ZipArchive(parsing: $0) }
        var out: [UInt8] = []
        var central: [UInt8] = []
        for entry in archive.entries {
            let contents = try package.withUnsafeBytes { try archive.contents(of: entry, in: $0) }
            let deflated = rawDeflate(contents)
            let name = Array(entry.path.utf8)
            let declaredCRC = crcOf.map { entry.path.hasSuffix($0) } == true ? crc : entry.crc32
            func fields(_ bytes: inout [UInt8]) {
                bytes.appendLittleEndian(UInt16(20))
                bytes.appendLittleEndian(UInt16(0))
                bytes.appendLittleEndian(UInt16(8))  // deflated
                bytes.appendLittleEndian(UInt32(0x0021_0000))  // 1980-01-01 00:00
                bytes.appendLittleEndian(declaredCRC)
                bytes.appendLittleEndian(UInt32(deflated.count))
                bytes.appendLittleEndian(UInt32(contents.count))
                bytes.appendLittleEndian(UInt16(name.count))
                bytes.appendLittleEndian(UInt16(0))
            }
            central.appendLittleEndian(UInt32(0x0201_4B50))
            central.appendLittleEndian(UInt16(3 << 8 | 20))
            fields(&central)
            central += [UInt8](repeating: 0, count: 6)  // comment length, disk, internal attributes
            central.appendLittleEndian(UInt32(0o100644 << 16))
            central.appendLittleEndian(UInt32(out.count))
            central += name
            out.appendLittleEndian(UInt32(0x0403_4B50))
            fields(&out)
            out += name + deflated
        }
        let directoryOffset = out.count
        out += central
        out.appendLittleEndian(UInt32(0x0605_4B50))
        out.appendLittleEndian(UInt32(0))
        out.appendLittleEndian(UInt16(archive.entries.count))
        out.appendLittleEndian(UInt16(archive.entries.count))
        out.appendLittleEndian(UInt32(central.count))
        out.appendLittleEndian(UInt32(directoryOffset))
        out.appendLittleEndian(UInt16(0))
        return out
    }

    private static func rawDeflate(_ data: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))))
        var input = data
        let written = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = uInt(o.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return Int(stream.total_out)
            }
        }
        return Array(out[0..<written])
    }

    /// The model specification of a package's bytes.
    static func model(_ package: [UInt8]) throws -> MLProgramModel {
        try package.withUnsafeBytes { bytes in
            let archive = try MLPackageArchive(bytes: bytes)
            return try archive.contents(of: archive.package.rootModelPath, in: bytes).withUnsafeBytes { try MLProgramModel(serialized: $0) }
        }
    }

    /// The ops of a package's main function, by type, in program order.
    static func operationTypes(_ package: [UInt8]) throws -> [String] {
        let model = try Self.model(package)
        let main = model.specification.mlProgram.functions["main"]!
        return main.blockSpecializations[main.opset]!.operations.map(\.type)
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
