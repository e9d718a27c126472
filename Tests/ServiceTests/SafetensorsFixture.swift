import Foundation
import ModelFormats
import QuantCore

/// SplitMix64: a tiny seeded generator, so every fixture is the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func nextSigned() -> Float {
        Float(next() >> 40) / Float(1 << 23) - 1
    }
}

/// A safetensors model built in memory from seeded random fp16/fp32 tensors. The values are
/// kept as the floats the file actually stores (fp16 already rounded), for comparisons.
struct SafetensorsFixture {
    struct Tensor {
        var name: String
        var dtype: ScalarType
        var shape: [Int]
        var values: [Float]
    }

    var tensors: [Tensor]
    var metadata: [String: String] = [:]

    /// Each tensor gets rows of different magnitude, so per-channel scales differ.
    static func random(_ specs: [(name: String, dtype: ScalarType, shape: [Int])], seed: UInt64) -> SafetensorsFixture {
        var rng = SeededGenerator(seed: seed)
        var tensors: [Tensor] = []
        for spec in specs {
            precondition(spec.dtype == .float16 || spec.dtype == .float32, "fixtures hold fp16 or fp32 tensors")
            let count = spec.shape.reduce(1, *)
            let rows = max(1, spec.shape.first ?? 1)
            let perRow = max(1, count / rows)
            var values = [Float](repeating: 0, count: count)
            var rowScale: Float = 0.05
            for i in 0..<count {
                if i % perRow == 0 { rowScale = 0.01 + 0.2 * (rng.nextSigned() + 1) }
                let v = rng.nextSigned() * rowScale
                values[i] = spec.dtype == .float16 ? Float(Float16(v)) : v
            }
            tensors.append(Tensor(name: spec.name, dtype: spec.dtype, shape: spec.shape, values: values))
        }
        return SafetensorsFixture(tensors: tensors)
    }

    /// The model the end-to-end flows use: mostly large fp16 matrices and a conv kernel that
    /// w8 quantizes, plus a bias (rank 1) and a small matrix (≤ 2048 elements) it must copy.
    static func standard(seed: UInt64 = 42) -> SafetensorsFixture {
        random([
            ("layers.0.weight", .float16, [256, 512]),
            ("layers.0.bias", .float16, [256]),
            ("layers.1.weight", .float16, [128, 256]),
            ("conv.weight", .float16, [64, 32, 3, 3]),
            ("small.weight", .float16, [16, 16]),
            ("head.weight", .float32, [64, 128]),
        ], seed: seed)
    }

    /// About `megabytes` MB of fp32 matrices, for uploads and jobs that take a moment.
    static func large(megabytes: Int, seed: UInt64 = 7) -> SafetensorsFixture {
        let rowsPerTensor = 1024, columns = 2048
        let tensorBytes = rowsPerTensor * columns * 4
        let count = max(1, megabytes * 1_000_000 / tensorBytes)
        return random((0..<count).map { ("blocks.\($0).weight", .float32, [rowsPerTensor, columns]) }, seed: seed)
    }

    func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// The bytes of one tensor as stored in the file (little-endian).
    static func encode(_ tensor: Tensor) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(tensor.values.count * tensor.dtype.byteWidth)
        switch tensor.dtype {
        case .float16:
            for v in tensor.values { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        default:
            for v in tensor.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// The file: 8-byte little-endian header length, JSON header padded to 8, data.
    var bytes: [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let members = metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(members.joined(separator: ","))}")
        }
        var data: [UInt8] = []
        for t in tensors {
            let begin = data.count
            data += Self.encode(t)
            entries.append("\(Self.quoted(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(data.count)]}")
        }
        return Self.file(header: "{" + entries.joined(separator: ",") + "}", data: data)
    }

    /// A file from a header written by hand, e.g. a corrupt one; `declaredLength` overrides
    /// the length prefix.
    static func file(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        var json = Array(header.utf8)
        json += [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
        var out = withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian, Array.init)
        out += json
        out += data
        return out
    }

    private static func quoted(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// A safetensors file read back for checking an artifact: the header is validated by the
/// production parser, tensor values are decoded here.
struct ParsedSafetensors {
    let bytes: [UInt8]
    let header: SafetensorsHeader

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        header = try SafetensorsHeader(parsing: bytes, fileSize: bytes.count)
    }

    var metadata: [String: String] { header.metadata }
    var names: Set<String> { Set(header.tensors.map(\.name)) }

    func info(_ name: String) -> SafetensorsTensorInfo? { header.tensor(named: name) }

    func rawBytes(_ name: String) -> [UInt8]? {
        guard let t = info(name) else { return nil }
        return Array(bytes[(header.dataStart + t.dataRange.lowerBound)..<(header.dataStart + t.dataRange.upperBound)])
    }

    /// Values of a float or integer tensor as Float.
    func values(_ name: String) -> [Float]? {
        guard let t = info(name), let raw = rawBytes(name) else { return nil }
        return raw.withUnsafeBytes { p -> [Float] in
            let n = t.shape.reduce(1, *)
            switch t.dtype {
            case .float16: return (0..<n).map { Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)))) }
            case .float32: return (0..<n).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            case .int8: return (0..<n).map { Float(Int8(bitPattern: p[$0])) }
            case .uint8: return (0..<n).map { Float(p[$0]) }
            default: preconditionFailure("no decoder for \(t.dtype) in the tests")
            }
        }
    }
}
