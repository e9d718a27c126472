/// Rounding of `weight / scale` to the precision coremltools divides in before `np.round`.
///
/// numpy evaluates `weight / scale` in the weight's dtype: for float16 it divides in float32
/// and rounds the quotient to float16, so a quotient just under a .5 tie can become the tie.
/// The bit operations below reproduce that rounding (ties to even) without a type conversion.
protocol QuotientRounding {
    static func round(_ quotient: Float) -> Float
    /// The same rounding on eight lanes.
    static func round(_ quotients: SIMD8<Float>) -> SIMD8<Float>
    /// Whether the vector kernels round the quotient to float16 precision; nil when they
    /// have no such rounding.
    static var vectorKernelFloat16Quotient: Bool? { get }
}

enum Float32Quotient: QuotientRounding {
    static var vectorKernelFloat16Quotient: Bool? { false }
    @inline(__always) static func round(_ quotient: Float) -> Float { quotient }
    @inline(__always) static func round(_ quotients: SIMD8<Float>) -> SIMD8<Float> { quotients }
}

enum Float16Quotient: QuotientRounding {
    static var vectorKernelFloat16Quotient: Bool? { true }
    /// Keeps 10 fraction bits. Exact in binary16's normal range; below it (|q| < 2^-14) the
    /// result still rounds to integer 0, and above it (|q| ≥ 65520) it still clips.
    @inline(__always) static func round(_ quotient: Float) -> Float {
        let bits = quotient.bitPattern
        return Float(bitPattern: (bits &+ 0xFFF &+ ((bits >> 13) & 1)) & 0xFFFF_E000)
    }

    @inline(__always) static func round(_ quotients: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(quotients, to: SIMD8<UInt32>.self)
        return unsafeBitCast((bits &+ 0xFFF &+ ((bits &>> 13) & 1)) & 0xFFFF_E000, to: SIMD8<Float>.self)
    }
}

enum BFloat16Quotient: QuotientRounding {
    static var vectorKernelFloat16Quotient: Bool? { nil }
    /// Keeps 7 fraction bits; bfloat16 shares binary32's exponent range, so this is exact
    /// for every finite quotient.
    @inline(__always) static func round(_ quotient: Float) -> Float {
        let bits = quotient.bitPattern
        return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
    }

    @inline(__always) static func round(_ quotients: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(quotients, to: SIMD8<UInt32>.self)
        return unsafeBitCast((bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) & 0xFFFF_0000, to: SIMD8<Float>.self)
    }
}
