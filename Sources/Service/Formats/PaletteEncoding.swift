import Foundation
import ModelFormats
import QuantCore

/// Artifact layout of a palettized tensor `N` (coremltools' `constexpr_lut_to_dense` data):
/// - `N`: U8, flat: one index per element (per vector of `cluster_dim` channels), row-major
///   over the weight's shape with `C / cluster_dim` on the channel axis, packed LSB-first at
///   `nbits` bits each;
/// - `N::lut`: the weight's float type, `[groups, 2^nbits, cluster_dim]`; group `g` serves
///   channels `g·group_size ..< (g+1)·group_size` along `channel_axis`;
/// - `N::scale`: with `enable_per_channel_scale`, coremltools' scales: max |w| reduced over
///   the channel axis, so the weight's shape with 1 there (e.g. `[1, C_in, kh, kw]`).
/// Rebuild: `w = lut[group][index] · scale` (the scale broadcast over the channel axis).
///
/// Palettized then LUT-quantized (joint): `N::lut` holds int8/uint8 codes with
/// `N::lut_scale` (and `N::lut_zero_point`), one per-tensor block, as coremltools' joint
/// compression stores it: `lut = (q − zp) · lut_scale`.
enum PaletteEncoding {
    static func encode(_ t: SafetensorsTensorInfo, _ p: PalettizedTensor,
                       lut quantizedLUT: LinearQuantizedTensor?) throws -> (parts: [EncodedTensor.Part], metadata: String?) {
        var parts = [
            EncodedTensor.Part(name: t.name, dtype: .uint8, shape: [BitPacking.packedByteCount(count: p.indices.count, bits: p.nbits)],
                               bytes: .owned(BitPacking.pack(p.indices, bits: p.nbits))),
        ]
        var meta = metadata(t, p)
        if let q = quantizedLUT {
            let codeType: ScalarType = q.config.dtype.isSigned ? .int8 : .uint8
            parts.append(.init(name: t.name + EncodedTensor.lutSuffix, dtype: codeType, shape: p.lutShape, bytes: .owned(q.codes)))
            parts.append(.init(name: t.name + "::lut_scale", dtype: q.scaleType, shape: q.scaleShape,
                               bytes: .owned(try EncodedTensor.floatBytes(q.scales, as: q.scaleType))))
            if let zp = q.zeroPoints {
                parts.append(.init(name: t.name + "::lut_zero_point", dtype: codeType, shape: q.scaleShape, bytes: .owned(zp)))
            }
            meta["lut_quantization"] = .object(LinearEncoding.metadata(q.config, original: p.lutType, shape: p.lutShape, zeroPoints: q.zeroPoints != nil))
        } else {
            parts.append(.init(name: t.name + EncodedTensor.lutSuffix, dtype: p.lutType, shape: p.lutShape,
                               bytes: .owned(try EncodedTensor.floatBytes(p.lut, as: p.lutType))))
        }
        if let scales = p.perChannelScale, let shape = p.perChannelScaleShape {
            parts.append(.init(name: t.name + EncodedTensor.scaleSuffix, dtype: p.lutType, shape: shape,
                               bytes: .owned(try EncodedTensor.floatBytes(scales, as: p.lutType))))
        }
        return (parts, try MetadataJSON.string(meta))
    }

    /// The `quantd:N` entry of a palettized tensor (shared with the pruned form).
    static func metadata(_ t: SafetensorsTensorInfo, _ p: PalettizedTensor) -> [String: MetadataJSON.Value] {
        [
            "mode": "palettize", "algorithm": .string(p.config.mode.rawValue), "nbits": .int(p.nbits),
            "granularity": .string(p.config.granularity.rawValue), "group_size": .int(p.groupSize), "channel_axis": .int(p.channelAxis),
            "cluster_dim": .int(p.clusterDim), "original_dtype": .string(t.dtype.rawValue), "shape": .ints(t.shape),
            "lut": .string(EncodedTensor.lutSuffix), "scale": p.perChannelScale == nil ? nil : .string(EncodedTensor.scaleSuffix),
        ]
    }
}
