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
