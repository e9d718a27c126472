import Foundation
import ModelFormats
import QuantCore

/// Artifact layouts of pruned tensors. Every one stores the mask the same way:
/// - `N::mask`: U8 `[ceil(count / 8)]`, bit `i % 8` of byte `i / 8` set when element `i`
///   (row-major) is kept — coremltools' `constexpr_sparse_to_dense` mask, LSB first.
///
/// Pruned only: `N` holds the kept values in the original dtype, shape `[nnz]`.
/// Pruned then quantized: `N` holds the kept elements' codes (8-bit: I8/U8 `[nnz]`; 4-bit:
/// U8 packed two per byte), and `N::scale` / `N::zero_point` are the dense tensor's, as in the
/// linear layout; the kept element at dense index `i` rebuilds as `(q − zp[block(i)]) · scale[block(i)]`.
/// Pruned elements are 0.
enum SparseEncoding {
    static func pruned(_ t: SafetensorsTensorInfo, _ p: PrunedTensor, config: PruningConfig) throws -> (parts: [EncodedTensor.Part], metadata: String?) {
        let parts = [
            EncodedTensor.Part(name: t.name, dtype: t.dtype, shape: [p.nonZeroCount], bytes: .owned(p.values)),
            EncodedTensor.Part(name: t.name + EncodedTensor.maskSuffix, dtype: .uint8, shape: [p.mask.count], bytes: .owned(p.mask)),
        ]
        let meta: [String: MetadataJSON.Value] = [
            "mode": "prune", "original_dtype": .string(t.dtype.rawValue), "shape": .ints(t.shape), "mask": .string(EncodedTensor.maskSuffix),
            "sparsity": .double(p.sparsity), "config": try MetadataJSON.Value(any: config.dictionary),
        ]
        return (parts, try MetadataJSON.string(meta))
    }

    static func prunedQuantized(_ t: SafetensorsTensorInfo, _ q: SparseLinearQuantizedTensor,
                                pruning: PruningConfig) throws -> (parts: [EncodedTensor.Part], metadata: String?) {
        let c = q.config
        let bits = c.dtype.bitWidth
        let codeType: ScalarType = c.dtype.isSigned ? .int8 : .uint8
        func codes(_ values: [UInt8]) -> (ScalarType, [Int], [UInt8]) {
            bits == 8 ? (codeType, [values.count], values)
                : (.uint8, [BitPacking.packedByteCount(count: values.count, bits: bits)], BitPacking.pack(values, bits: bits))
        }
        let (dtype, shape, data) = codes(q.codes)
        var parts = [
            EncodedTensor.Part(name: t.name, dtype: dtype, shape: shape, bytes: .owned(data)),
            EncodedTensor.Part(name: t.name + EncodedTensor.maskSuffix, dtype: .uint8, shape: [q.mask.count], bytes: .owned(q.mask)),
            EncodedTensor.Part(name: t.name + EncodedTensor.scaleSuffix, dtype: q.scaleType, shape: q.scaleShape,
                               bytes: .owned(try EncodedTensor.floatBytes(q.scales, as: q.scaleType))),
        ]
        if let zp = q.zeroPoints {
            let zdata = bits == 8 ? zp : BitPacking.pack(zp, bits: bits)
            parts.append(.init(name: t.name + EncodedTensor.zeroPointSuffix, dtype: bits == 8 ? codeType : .uint8,
                               shape: bits == 8 ? q.scaleShape : [zdata.count], bytes: .owned(zdata)))
        }
        var meta = LinearEncoding.metadata(c, original: t.dtype, shape: t.shape, zeroPoints: q.zeroPoints != nil)
        meta["mode"] = "prune+linear"
        meta["quantization_mode"] = .string(c.mode.rawValue)
        meta["mask"] = .string(EncodedTensor.maskSuffix)
        meta["sparsity"] = .double(1 - Double(q.nonZeroCount) / Double(max(1, t.elementCount)))
        meta["pruning"] = try MetadataJSON.Value(any: pruning.dictionary)
        return (parts, try MetadataJSON.string(meta))
    }

    /// Pruned then palettized: `N` holds the kept elements' LUT indices (packed as in the
    /// palettized layout), `N::lut` (and `N::scale`) as there; `N::mask` as above.
    static func prunedPalettized(_ t: SafetensorsTensorInfo, _ pruned: PrunedTensor, _ p: PalettizedTensor,
                                 pruning: PruningConfig) throws -> (parts: [EncodedTensor.Part], metadata: String?) {
        var kept: [UInt8] = []
        kept.reserveCapacity(pruned.nonZeroCount)
        for i in p.indices.indices where pruned.isKept(i) { kept.append(p.indices[i]) }
        var parts = [
            EncodedTensor.Part(name: t.name, dtype: .uint8, shape: [BitPacking.packedByteCount(count: kept.count, bits: p.nbits)],
                               bytes: .owned(BitPacking.pack(kept, bits: p.nbits))),
            EncodedTensor.Part(name: t.name + EncodedTensor.maskSuffix, dtype: .uint8, shape: [pruned.mask.count], bytes: .owned(pruned.mask)),
            EncodedTensor.Part(name: t.name + EncodedTensor.lutSuffix, dtype: p.lutType, shape: p.lutShape,
                               bytes: .owned(try EncodedTensor.floatBytes(p.lut, as: p.lutType))),
        ]
        if let scales = p.perChannelScale, let shape = p.perChannelScaleShape {
            parts.append(.init(name: t.name + EncodedTensor.scaleSuffix, dtype: p.lutType, shape: shape,
                               bytes: .owned(try EncodedTensor.floatBytes(scales, as: p.lutType))))
        }
        var meta = PaletteEncoding.metadata(t, p)
        meta["mode"] = "prune+palettize"
        meta["mask"] = .string(EncodedTensor.maskSuffix)
        meta["sparsity"] = .double(pruned.sparsity)
        meta["pruning"] = try MetadataJSON.Value(any: pruning.dictionary)
        return (parts, try MetadataJSON.string(meta))
    }
}
