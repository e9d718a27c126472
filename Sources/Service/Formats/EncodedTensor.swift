import Compression
import ModelFormats
import QuantCore

/// One input tensor as it will appear in the artifact: the safetensors tensors that hold it
/// (codes, scales, LUT, mask…), the metadata entry that says how to rebuild it, and its line
/// in the report.
struct EncodedTensor {
    struct Part {
        enum Bytes {
            case owned([UInt8])
            /// Copied from the input file as is (unchanged tensors).
            case input(SafetensorsTensorInfo)
        }

        var name: String
        var dtype: ScalarType
        var shape: [Int]
        var bytes: Bytes

        var byteCount: Int {
            switch bytes {
            case .owned(let b): b.count
            case .input(let info): info.byteCount
            }
        }
    }

    var parts: [Part]
    /// JSON for `__metadata__["quantd:<name>"]`; nil for unchanged tensors.
    var metadata: String?
    var report: CompressionReport.Tensor
    var form: CompressedForm

    static let scaleSuffix = "::scale"
    static let zeroPointSuffix = "::zero_point"
    static let lutSuffix = "::lut"
    static let maskSuffix = "::mask"

    /// The tensor copied byte for byte.
    static func unchanged(_ t: SafetensorsTensorInfo) -> (parts: [Part], metadata: String?) {
        ([Part(name: t.name, dtype: t.dtype, shape: t.shape, bytes: .input(t))], nil)
    }

    /// The artifact's tensors for the core's form of `t`, and its report line.
    static func encode(_ t: SafetensorsTensorInfo, _ w: CompressedWeight) throws -> EncodedTensor {
        let (parts, metadata): ([Part], String?) = switch w.form {
        case .unchanged: unchanged(t)
        case .linear(let q): try LinearEncoding.encode(t, q)
        case .palettized(let p, let lut): try PaletteEncoding.encode(t, p, lut: lut)
        case .pruned(let p, let config): try SparseEncoding.pruned(t, p, config: config)
        case .prunedLinear(let q, let config): try SparseEncoding.prunedQuantized(t, q, pruning: config)
        case .prunedPalettized(let pruned, let p, let config): try SparseEncoding.prunedPalettized(t, pruned, p, pruning: config)
        case .matMulNBits: preconditionFailure("the core writes MatMulNBits only for a format that asks for it (ONNX)")
        }
        return EncodedTensor(parts: parts, metadata: metadata,
                             report: .init(w, bytesAfter: parts.reduce(0) { $0 + $1.byteCount }), form: w.form)
    }

    static func floatBytes(_ values: [Float], as type: ScalarType) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * type.byteWidth)
        try values.withUnsafeBufferPointer { v in
            try bytes.withUnsafeMutableBytes { try FloatConversion.encode(v, to: type, into: $0) }
        }
        return bytes
    }
}
