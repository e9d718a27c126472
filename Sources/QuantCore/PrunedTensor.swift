/// A weight tensor after pruning, in coremltools' `constexpr_sparse_to_dense` layout: a bit
/// mask over all elements and the values of the elements it keeps.
///
/// Size: `ceil(count / 8)` mask bytes + `nonZeroCount × type.byteWidth` value bytes.
public struct PrunedTensor: Sendable, Equatable {
    /// Shape of the original (dense) weight.
    public let shape: [Int]
    /// The original element type, which `values` are stored in.
    public let type: ScalarType
    /// LSB-first: bit `i % 8` of byte `i / 8` is set when element `i` (row-major) is kept.
    /// Elements that were zero before pruning are not kept either, as in coremltools.
    public let mask: [UInt8]
    public let nonZeroCount: Int
    /// Kept elements' little-endian bytes, unchanged, in row-major order.
    public let values: [UInt8]

    public var count: Int { shape.reduce(1, *) }

    /// Fraction of elements the mask drops.
    public var sparsity: Double {
        count == 0 ? 0 : Double(count - nonZeroCount) / Double(count)
    }

    public func isKept(_ index: Int) -> Bool {
        mask[index >> 3] & (1 << (index & 7)) != 0
    }

    /// The dense weight as floats: kept elements decoded, zero elsewhere.
    public func dequantized() -> [Float] {
        var kept = [Float](repeating: 0, count: nonZeroCount)
        values.withUnsafeBytes { values in
            kept.withUnsafeMutableBufferPointer { kept in
                // `type` is a floating type and the sizes agree by construction.
                try? FloatConversion.decode(values, from: type, into: kept)
            }
        }
        var dense = [Float](repeating: 0, count: count)
        dense.withUnsafeMutableBufferPointer { dense in
            forEachKept { index, ordinal in dense[index] = kept[ordinal] }
        }
        return dense
    }

    /// The dense weight in its original encoding, zero bytes (+0.0) where pruned: what
    /// coremltools' `sparse_to_dense` hands to a following compression pass.
    public func denseBytes() -> [UInt8] {
        let width = type.byteWidth
        var dense = [UInt8](repeating: 0, count: count * width)
        dense.withUnsafeMutableBytes { dense in
            values.withUnsafeBytes { values in
                forEachKept { index, ordinal in
                    dense.baseAddress!.advanced(by: index * width)
                        .copyMemory(from: values.baseAddress!.advanced(by: ordinal * width), byteCount: width)
                }
            }
        }
        return dense
    }

    /// Calls `body` with each kept element's index and its position among the kept values.
    func forEachKept(_ body: (_ index: Int, _ ordinal: Int) -> Void) {
        var ordinal = 0
        for (byte, bits) in mask.enumerated() {
            var pending = bits
            while pending != 0 {
                body(byte &* 8 &+ pending.trailingZeroBitCount, ordinal)
                ordinal &+= 1
                pending &= pending &- 1
            }
        }
    }
}
