import CQuantKernels

/// A weight tensor after linear quantization: `w ≈ (q − zeroPoint) · scale` per block.
///
/// Integers take one byte each whatever `dtype.bitWidth` is; packing 4-bit codes is the
/// writer's job.
public struct LinearQuantizedTensor: Sendable, Equatable {
    public let config: LinearQuantizationConfig
    /// Shape of the original weight and of `codes`.
    public let shape: [Int]
    /// One byte per element in row-major order: the two's-complement bit pattern of the
    /// integer (read it as `Int8` for signed dtypes, `UInt8` for unsigned ones).
    public let codes: [UInt8]
    /// One scale per block, row-major in `scaleShape`. Each value is exactly representable
    /// in `scaleType`, so encoding it there loses nothing.
    public let scales: [Float]
    /// Same rank as `shape`: the number of blocks along each axis (1 where a block spans it).
    public let scaleShape: [Int]
    /// The floating type the scales were computed and are meant to be stored in.
    public let scaleType: ScalarType
    /// Per-block zero points in the same byte encoding as `codes`, or nil where coremltools
    /// has none (signed types in symmetric mode). May be present and all zero.
    public let zeroPoints: [UInt8]?

    /// The integer a code or zero-point byte stands for under this tensor's dtype.
    public func integer(_ byte: UInt8) -> Int {
        config.dtype.isSigned ? Int(Int8(bitPattern: byte)) : Int(byte)
    }

    /// Whether any zero point differs from zero, which is when writers must store them.
    public var hasNonZeroZeroPoints: Bool {
        zeroPoints?.contains { $0 != 0 } ?? false
    }
}

extension LinearQuantizedTensor {
    /// How many different codes occur (for the report's `unique_values`), counted in parallel.
    ///
    /// Chunks are large (a million codes at least) because each stops scanning once it has
    /// seen every level, which real weights reach after a hundred thousand or so codes; small
    /// chunks never get there and scan everything.
    public var distinctCodes: Int {
        let chunks = min(ParallelChunks.chunkCount(items: codes.count, unitsPerItem: 1), max(1, codes.count >> 20))
        var seen = [UInt8](repeating: 0, count: 256 * max(chunks, 1))
        codes.withUnsafeBufferPointer { codes in
            seen.withUnsafeMutableBufferPointer { seen in
                nonisolated(unsafe) let seen = seen
                let possible = config.quantizedRange.count
                ParallelChunks.forEach(count: codes.count, chunks: chunks) { chunk, range in
                    _ = qk_mark_codes(codes.baseAddress! + range.lowerBound, range.count, seen.baseAddress! + chunk * 256, possible)
                }
            }
        }
        return (0..<256).reduce(0) { total, code in
            total + (stride(from: code, to: seen.count, by: 256).contains { seen[$0] != 0 } ? 1 : 0)
        }
    }
}

extension LinearQuantizedTensor {
    /// The tensor rebuilt as floats, row-major: `(q − zero point) · scale` per block.
    public func dequantized() -> [Float] {
        guard let layout = try? BlockLayout(shape: shape, blockSizes: config.blockSizes(for: shape)), layout.elementCount > 0 else {
            return []
        }
        var out = [Float](repeating: 0, count: layout.elementCount)
        out.withUnsafeMutableBufferPointer { out in
            layout.forEachRun(in: 0..<layout.partitionSize) { offset, firstBlock, length in
                for i in 0..<length {
                    let block = layout.run.kind == .across ? firstBlock + i : firstBlock
                    let zp = zeroPoints.map { Float(integer($0[block])) } ?? 0
                    out[offset + i] = (Float(integer(codes[offset + i])) - zp) * scales[block]
                }
            }
        }
        return out
    }
}
