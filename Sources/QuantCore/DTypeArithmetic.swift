/// numpy's arithmetic on a float16 or float32 array: every operation computed in `Float` and
/// rounded to the dtype.
///
/// For float16 that is exactly IEEE half arithmetic: `Float` carries more than 2·11 + 2
/// significand bits, so rounding a `Float` sum, product, quotient or square root again to half
/// gives the correctly rounded half result.
enum DTypeArithmetic: Sendable, Equatable {
    case float16
    case float32

    /// The dtype coremltools would hold weights of `type` in: float16 stays, everything else
    /// is float32 (coremltools has no bfloat16 or float8, and holds float64 constants as float32).
    init(_ type: ScalarType) {
        self = type == .float16 ? .float16 : .float32
    }

    @inline(__always)
    func rounded(_ value: Float) -> Float {
        switch self {
        case .float16: Float16Rounding.rounded(value)
        case .float32: value
        }
    }

    /// A Python float or int cast to the dtype, rounded once from the `Double`.
    func rounded(_ value: Double) -> Float {
        switch self {
        case .float32:
            return Float(value)
        case .float16:
            guard value.isFinite else { return Float(value) }
            // Largest half is 65504; from 65520 on, round-to-nearest gives infinity.
            if abs(value) >= 65520 { return value < 0 ? -.infinity : .infinity }
            // Halves are multiples of 2^(e − 10) in [2^e, 2^(e+1)), and of 2^−24 below 2^−14;
            // scaling by a power of two is exact, so one rint rounds once.
            let exponent = max(value == 0 ? -14 : Int(value.exponent), -14)
            let ulp = Double(sign: .plus, exponent: exponent - 10, significand: 1)
            return Float((value / ulp).rounded(.toNearestOrEven) * ulp)
        }
    }
}

/// Rounding to a dtype as a type, so that hot loops specialise on it instead of switching.
protocol DTypeRounding {
    static func rounded(_ value: Float) -> Float
}

enum Float32Rounding: DTypeRounding {
    @inline(__always) static func rounded(_ value: Float) -> Float { value }
}

enum Float16Rounding: DTypeRounding {
    /// Round to nearest even binary16, branch-free: normal values keep 10 fraction bits;
    /// below 2^-14 adding 0.5 rounds at the subnormal spacing 2^-24; from 65520 on it is infinite.
    @inline(__always) static func rounded(_ value: Float) -> Float {
        let bits = value.bitPattern
        let sign = bits & 0x8000_0000
        let magnitudeBits = bits ^ sign
        let magnitude = Float(bitPattern: magnitudeBits)
        let normal = Float(bitPattern: (magnitudeBits &+ 0xFFF &+ ((magnitudeBits >> 13) & 1)) & 0xFFFF_E000)
        let subnormal = (magnitude + 0.5) - 0.5
        var result = magnitude < 0x1p-14 ? subnormal : normal
        result = result >= 65536 ? .infinity : result
        return Float(bitPattern: result.bitPattern | sign)
    }
}
