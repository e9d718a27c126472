/// Bit-exact conversions between `Float` and the narrow floating types weights are stored in.
///
/// Decoding is exact for every type (each narrow value is a `Float`, except F64 which is
/// rounded to nearest even). Encoding rounds to nearest even, keeps infinities, turns
/// overflow into infinity, produces subnormals, and maps every NaN to a quiet NaN.
public enum FloatConversion {
    /// Decodes little-endian `source` elements of a floating `type` into `destination`.
    ///
    /// Large buffers are decoded on all cores.
    public static func decode(
        _ source: UnsafeRawBufferPointer, from type: ScalarType,
        into destination: UnsafeMutableBufferPointer<Float>
    ) throws(QuantCoreError) {
        guard type.isFloatingPoint else { throw .notFloatingPoint(type) }
        guard source.count == destination.count * type.byteWidth else {
            throw .sizeMismatch(expected: destination.count * type.byteWidth, actual: source.count)
        }
        guard let base = source.baseAddress, let out = destination.baseAddress else { return }
        struct Decode: WeightSourceVisitor {
            let out: UnsafeMutablePointer<Float>
            let count: Int
            func visit<Source: WeightSource>(_ source: Source) {
                let chunks = ParallelChunks.chunkCount(items: count, unitsPerItem: 1)
                ParallelChunks.forEach(count: count, chunks: chunks) { _, range in
                    for index in range { out[index] = source[index] }
                }
            }
        }
        try withWeightSource(type, base, Decode(out: out, count: destination.count))
    }

    /// Encodes `source` as little-endian F32, F16 or BF16 into `destination`.
    public static func encode(
        _ source: UnsafeBufferPointer<Float>, to type: ScalarType,
        into destination: UnsafeMutableRawBufferPointer
    ) throws(QuantCoreError) {
        guard destination.count == source.count * type.byteWidth else {
            throw .sizeMismatch(expected: source.count * type.byteWidth, actual: destination.count)
        }
        switch type {
        case .float32:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        case .float16:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: float16Bits(value).littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        case .bfloat16:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: bfloat16Bits(value).littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        default:
            throw .unsupportedEncoding(type)
        }
    }

    /// Eight binary16 values at once: the scalar conversion's steps on vector lanes. Lane
    /// selects are bit masks made with integer arithmetic, because Swift's generic
    /// `replacing(with:where:)` goes lane by lane through memory.
    @inline(__always)
    public static func float(float16Bits bits: SIMD8<UInt16>) -> SIMD8<Float> {
        let wide = SIMD8<UInt32>(truncatingIfNeeded: bits)
        let shifted = (wide & 0x7FFF) &<< 13
        let exponent = shifted & 0x0F80_0000
        let normal = shifted &+ 0x3800_0000
        let subnormal = unsafeBitCast(unsafeBitCast(shifted &+ 0x3880_0000, to: SIMD8<Float>.self) - 0x1p-14, to: SIMD8<UInt32>.self)
        let special = shifted | 0x7F80_0000
        // All ones where the exponent field is 0 (resp. all ones), else 0.
        let isSubnormal = SIMD8<UInt32>(repeating: 0) &- ((exponent &- 1) &>> 31)
        let isSpecial = SIMD8<UInt32>(repeating: 0) &- (((exponent ^ 0x0F80_0000) &- 1) &>> 31)
        var magnitude = (normal & ~isSubnormal) | (subnormal & isSubnormal)
        magnitude = (magnitude & ~isSpecial) | (special & isSpecial)
        return unsafeBitCast(magnitude | ((wide & 0x8000) &<< 16), to: SIMD8<Float>.self)
    }

    /// The IEEE binary16 value with bit pattern `bits`.
    ///
    /// Branch-free integer arithmetic rather than a 65536-entry table or `Float16`: without
    /// F16C (absent from the baseline x86-64 target) `Float16` conversion is a library call
    /// (0.6 GB/s), and the table's loads keep the quantizer loop from vectorising
    /// (1.0 GB/s fused against 2.2 GB/s on 2 cores).
    @inline(__always)
    public static func float(float16Bits bits: UInt16) -> Float {
        let bits = UInt32(bits)
        let shifted = (bits & 0x7FFF) << 13
        let exponent = shifted & 0x0F80_0000
        // Normal numbers only need the exponent rebiased (+112).
        var magnitude = Float(bitPattern: shifted &+ 0x3800_0000)
        // Subnormals: read the mantissa as 2^-14 · (1 + m/1024), then take the 2^-14 away.
        let subnormal = Float(bitPattern: shifted &+ 0x3880_0000) - 0x1p-14
        magnitude = exponent == 0 ? subnormal : magnitude
        let special = Float(bitPattern: shifted | 0x7F80_0000)
        magnitude = exponent == 0x0F80_0000 ? special : magnitude
        return Float(bitPattern: magnitude.bitPattern | ((bits & 0x8000) << 16))
    }

    /// The bfloat16 value with bit pattern `bits`: the top half of a binary32.
    @inline(__always)
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The float8 E4M3FN value (no infinities, NaN only at magnitude bits 0x7F), as in
    /// PyTorch `float8_e4m3fn` and safetensors `F8_E4M3`.
    @inline(__always)
    public static func float(float8E4M3Bits bits: UInt8) -> Float {
        float8E4M3Table[Int(bits)]
    }

    /// The float8 E5M2 value: the top byte of a binary16, so it has infinities and NaNs.
    @inline(__always)
    public static func float(float8E5M2Bits bits: UInt8) -> Float {
        float(float16Bits: UInt16(bits) << 8)
    }

    /// Rounds `value` to the nearest binary16, ties to even.
    public static func float16Bits(_ value: Float) -> UInt16 {
        var magnitude = value.bitPattern
        let sign = magnitude & 0x8000_0000
        magnitude ^= sign
        let half: UInt32
        if magnitude >= 0x4780_0000 {
            // At or beyond 2^16 everything is infinite; keep NaN a (quiet) NaN.
            half = magnitude > 0x7F80_0000 ? 0x7E00 : 0x7C00
        } else if magnitude < 0x3880_0000 {
            // Below 2^-14 the result is subnormal: adding 0.5 makes the FPU round at exactly
            // the binary16 subnormal spacing (2^-24), leaving the mantissa in the low bits.
            let aligned = Float(bitPattern: magnitude) + 0.5
            half = aligned.bitPattern &- 0x3F00_0000
        } else {
            // Rebias the exponent (-112 << 23) and round the 13 dropped bits to nearest even.
            let odd = (magnitude >> 13) & 1
            half = (magnitude &+ 0xC800_0FFF &+ odd) >> 13
        }
        return UInt16(truncatingIfNeeded: half | (sign >> 16))
    }

    /// Rounds `value` to the nearest bfloat16, ties to even.
    @inline(__always)
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// Every float8 E4M3FN value by bit pattern.
    nonisolated(unsafe) static let float8E4M3Table: UnsafePointer<Float> = {
        let table = UnsafeMutablePointer<Float>.allocate(capacity: 256)
        for bits in 0..<256 {
            let negative = bits & 0x80 != 0
            let exponent = (bits >> 3) & 0xF
            let mantissa = bits & 0x7
            let magnitude: Float
            if exponent == 0xF && mantissa == 0x7 {
                magnitude = .nan
            } else if exponent == 0 {
                magnitude = Float(mantissa) * 0x1p-9
            } else {
                magnitude = Float(8 + mantissa) * Float(sign: .plus, exponent: exponent - 10, significand: 1)
            }
            table[bits] = negative ? -magnitude : magnitude
        }
        return UnsafePointer(table)
    }()
}
