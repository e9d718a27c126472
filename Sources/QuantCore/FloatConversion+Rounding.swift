/// Rounding to the float type a LUT is stored in: F16 and F32 as numpy does it
/// (`DTypeArithmetic`), plus BF16 for bfloat16 weights, whose LUTs stay bfloat16.
extension FloatConversion {
    /// The F16 or BF16 (`type`) value with bit pattern `bits`.
    @inline(__always)
    static func float(bits: UInt16, of type: ScalarType) -> Float {
        type == .float16 ? float(float16Bits: bits) : float(bfloat16Bits: bits)
    }

    /// `value` rounded to nearest even in `type` (F16, BF16; anything else keeps F32), as numpy
    /// rounds the result of each operation on a float16 array.
    @inline(__always)
    static func rounded(_ value: Float, to type: ScalarType) -> Float {
        switch type {
        case .float16: Float16Rounding.rounded(value)
        case .bfloat16: float(bfloat16Bits: bfloat16Bits(value))
        default: value
        }
    }

    /// `value` rounded once to nearest even in `type`, as numpy's `astype` from float64 does.
    static func rounded(_ value: Double, to type: ScalarType) -> Float {
        switch type {
        case .float16:
            return DTypeArithmetic.float16.rounded(value)
        case .bfloat16:
            // Through Float with round-to-odd: binary32 keeps more than two bits beyond
            // bfloat16's precision, so the odd last bit only records that the value lay past a
            // tie and the second rounding is exact.
            var single = Float(value)
            guard single.isFinite, Double(single) != value else { return rounded(single, to: type) }
            if abs(Double(single)) > abs(value) { single = Float(bitPattern: single.bitPattern - 1) }
            return rounded(Float(bitPattern: single.bitPattern | 1), to: type)
        default:
            return Float(value)
        }
    }
}
