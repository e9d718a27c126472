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

    static let scaleSuffix = "::scale"
    static let zeroPointSuffix = "::zero_point"
    static let lutSuffix = "::lut"
    static let maskSuffix = "::mask"

    /// The tensor copied byte for byte, with the reason it was left alone.
    static func unchanged(_ t: SafetensorsTensorInfo, reason: String) -> EncodedTensor {
        EncodedTensor(
            parts: [Part(name: t.name, dtype: t.dtype, shape: t.shape, bytes: .input(t))], metadata: nil,
            report: .init(name: t.name, shape: t.shape, dtype: t.dtype.rawValue, action: "unchanged", reason: reason,
                          mode: nil, bytesBefore: t.byteCount, bytesAfter: t.byteCount,
                          bitsPerWeight: Double(t.dtype.byteWidth * 8), sqnrDB: nil, maxAbsError: nil, cosine: nil,
                          sparsity: nil, uniqueValues: nil))
    }

    /// The report line of a compressed tensor: sizes from the parts, error from `metrics`.
    static func report(for t: SafetensorsTensorInfo, mode: String, parts: [Part], metrics: QuantizationErrorMetrics,
                       uniqueValues: Int?) -> CompressionReport.Tensor {
        let after = parts.reduce(0) { $0 + $1.byteCount }
        return .init(name: t.name, shape: t.shape, dtype: t.dtype.rawValue, action: "compressed", reason: nil, mode: mode,
                     bytesBefore: t.byteCount, bytesAfter: after,
                     bitsPerWeight: Double(after * 8) / Double(max(1, t.elementCount)),
                     sqnrDB: metrics.sqnrDB.isFinite ? metrics.sqnrDB : nil,
                     maxAbsError: metrics.maxAbsError, cosine: metrics.cosine,
                     sparsity: metrics.sparsity, uniqueValues: uniqueValues)
    }

    static func floatBytes(_ values: [Float], as type: ScalarType) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * type.byteWidth)
        try values.withUnsafeBufferPointer { v in
            try bytes.withUnsafeMutableBytes { try FloatConversion.encode(v, to: type, into: $0) }
        }
        return bytes
    }
}
