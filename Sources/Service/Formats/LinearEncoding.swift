import Foundation
import ModelFormats
import QuantCore

/// Artifact layout of a linearly quantized tensor `N`:
/// - `N`: integer codes. 8-bit: I8/U8 in the original shape. 4-bit: U8, flat, two codes per
///   byte LSB-first (the low nibble holds the earlier element; int4 codes are two's complement).
/// - `N::scale`: one scale per block in the weight's float type, same rank as `N`.
/// - `N::zero_point`: for `linear` mode and unsigned dtypes; same shape as the scale; codes' type
///   (4-bit zero points are packed likewise).
/// Rebuild: `w = (q − zero_point) · scale`, each scale repeated over its block.
enum LinearEncoding {
    static func encode(_ t: SafetensorsTensorInfo, _ q: LinearQuantizedTensor) throws -> (parts: [EncodedTensor.Part], metadata: String?) {
        let c = q.config
        let bits = c.dtype.bitWidth
        let codeType: ScalarType = c.dtype.isSigned ? .int8 : .uint8
        func codes(_ values: [UInt8], shape: [Int]) -> (ScalarType, [Int], [UInt8]) {
            bits == 8 ? (codeType, shape, values)
                : (.uint8, [BitPacking.packedByteCount(count: values.count, bits: bits)], BitPacking.pack(values, bits: bits))
        }
        let (dtype, shape, data) = codes(q.codes, shape: t.shape)
        var parts = [
            EncodedTensor.Part(name: t.name, dtype: dtype, shape: shape, bytes: .owned(data)),
            EncodedTensor.Part(name: t.name + EncodedTensor.scaleSuffix, dtype: q.scaleType, shape: q.scaleShape,
                               bytes: .owned(try EncodedTensor.floatBytes(q.scales, as: q.scaleType))),
        ]
        if let zp = q.zeroPoints {
            let (zdtype, zshape, zdata) = codes(zp, shape: q.scaleShape)
            parts.append(.init(name: t.name + EncodedTensor.zeroPointSuffix, dtype: zdtype, shape: zshape, bytes: .owned(zdata)))
        }
        let meta = metadata(c, original: t.dtype, shape: t.shape, zeroPoints: q.zeroPoints != nil)
        return (parts, try MetadataJSON.string(meta))
    }

    /// The `quantd:N` entry of a linearly quantized tensor (shared with the sparse form).
    static func metadata(_ c: LinearQuantizationConfig, original: ScalarType, shape: [Int], zeroPoints: Bool) -> [String: MetadataJSON.Value] {
        var meta: [String: MetadataJSON.Value] = [
            "mode": .string(c.mode.rawValue), "dtype": .string(c.dtype.rawValue), "granularity": .string(c.granularity.rawValue),
            "original_dtype": .string(original.rawValue), "shape": .ints(shape), "output_axis": .int(c.outputAxis),
            "scale": .string(EncodedTensor.scaleSuffix), "zero_point": zeroPoints ? .string(EncodedTensor.zeroPointSuffix) : nil,
        ]
        if c.dtype.bitWidth < 8 { meta["packed_bits"] = .int(c.dtype.bitWidth) }
        if c.granularity == .perBlock {
            switch c.blockSize {
            case .alongInputAxis(let n): meta["block_size"] = .int(n)
            case .perAxis(let sizes): meta["block_size"] = .ints(sizes)
            }
        }
        return meta
    }
}
