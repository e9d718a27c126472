/// A pruned weight whose kept values are then linearly quantized: coremltools' joint
/// prune → quantize (`linear_quantize_weights` with `joint_compression=True` on a
/// `constexpr_sparse_to_dense` weight), stored as `constexpr_sparse_blockwise_shift_scale`.
///
/// coremltools restores the dense tensor (pruned elements +0.0), quantizes it exactly as a
/// dense weight (so pruned zeros count in each block's min/max, and a block pruned to all
/// zeros is an all-zero block), and keeps the codes of the masked-in elements only.
public struct SparseLinearQuantizedTensor: Sendable, Equatable {
    public let config: LinearQuantizationConfig
    /// Shape of the dense weight.
    public let shape: [Int]
    /// The pruning mask, unchanged: LSB-first, bit i set when element i is stored.
    public let mask: [UInt8]
    public let nonZeroCount: Int
    /// One byte per kept element, row-major, in `LinearQuantizedTensor.codes`' encoding.
    public let codes: [UInt8]
    /// Per-block parameters of the dense quantization, as in `LinearQuantizedTensor`.
    public let scales: [Float]
    public let scaleShape: [Int]
    public let scaleType: ScalarType
    public let zeroPoints: [UInt8]?
}

extension LinearQuantizer {
    /// Quantizes a pruned weight the way coremltools' joint compression does.
    public func quantize(_ pruned: PrunedTensor) throws(QuantCoreError) -> SparseLinearQuantizedTensor {
        let dense = pruned.denseBytes()
        let quantized = try dense.withUnsafeBytes { bytes in
            Result { () throws(QuantCoreError) in try quantize(bytes, type: pruned.type, shape: pruned.shape) }
        }.get()
        let mask = MaskCompaction.Mask(bytes: pruned.mask, chunkCounts: [pruned.nonZeroCount])
        let codes = quantized.codes.withUnsafeBytes { MaskCompaction.gather($0, width: 1, mask: mask) }
        return SparseLinearQuantizedTensor(
            config: config, shape: pruned.shape, mask: pruned.mask, nonZeroCount: pruned.nonZeroCount,
            codes: codes, scales: quantized.scales, scaleShape: quantized.scaleShape,
            scaleType: quantized.scaleType, zeroPoints: quantized.zeroPoints)
    }
}

extension SparseLinearQuantizedTensor {
    /// The dense weight as floats: kept elements dequantized, pruned ones 0.
    public func dequantized() -> [Float] {
        // Pruned positions take their block's zero-point code, which dequantizes to exactly 0.
        let layout = try? BlockLayout(shape: shape, blockSizes: config.blockSizes(for: shape))
        var dense = [UInt8](repeating: 0, count: shape.reduce(1, *))
        if let zeroPoints, let layout {
            dense.withUnsafeMutableBufferPointer { dense in
                layout.forEachRun(in: 0..<layout.partitionSize) { offset, firstBlock, length in
                    for i in 0..<length {
                        dense[offset + i] = zeroPoints[layout.run.kind == .across ? firstBlock + i : firstBlock]
                    }
                }
            }
        }
        var ordinal = 0
        for index in dense.indices where mask[index >> 3] & (1 << (index & 7)) != 0 {
            dense[index] = codes[ordinal]
            ordinal += 1
        }
        return LinearQuantizedTensor(config: config, shape: shape, codes: dense, scales: scales,
                                     scaleShape: scaleShape, scaleType: scaleType, zeroPoints: zeroPoints).dequantized()
    }
}
