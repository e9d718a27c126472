/// The scale and zero point that quantize one activation tensor, from its calibrated range.
///
/// Each reference tool computes them its own way, and quantd follows the tool whose format it
/// writes, so a program equals what that tool would have written for the same range.
public struct ActivationQuantizationParameters: Sendable, Equatable {
    public let dtype: ActivationQuantizationConfig.DType
    /// The stored scale's exact value.
    public let scale: Float
    /// The zero point; 0 for signed symmetric quantization.
    public let zeroPoint: Int32

    public init(dtype: ActivationQuantizationConfig.DType, scale: Float, zeroPoint: Int32) {
        self.dtype = dtype
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The quantized range: coremltools' `get_quant_range` (symmetric modes drop the lowest code
    /// of int8 and the highest of uint8, so the range is symmetric around the zero point).
    public static func codeRange(_ dtype: ActivationQuantizationConfig.DType, mode: LinearQuantizationConfig.Mode) -> ClosedRange<Int32> {
        switch (dtype, mode) {
        case (.int8, .linearSymmetric): -127...127
        case (.int8, .linear): -128...127
        case (.uint8, .linearSymmetric): 0...254
        case (.uint8, .linear): 0...255
        }
    }

    /// coremltools' rule (`quantize_weight_by_dtype` on the two-element array [min, max], as its
    /// activation passes call it): the range is rounded to float16 first and every step is
    /// float16 arithmetic, so the scale is a float16 value whatever the tensor's type.
    ///
    /// Two deliberate differences, where coremltools writes a program that cannot run: a range
    /// that is all zero gives scale 0 there (and a NaN zero point in linear mode), quantd scale 1
    /// and the mode's own zero point, which quantizes the zeros it saw exactly; a range beyond
    /// float16 (±65504) becomes an infinite scale there; quantd clamps it to the largest float16 and
    /// keeps in float32 any intermediate step that would overflow float16.
    public static func coreML(min: Float, max: Float, _ config: ActivationQuantizationConfig.OpConfig) -> Self {
        let codes = codeRange(config.dtype, mode: config.mode)
        let qmin = Float(codes.lowerBound), qmax = Float(codes.upperBound)
        let largest: Float = 65504
        func clamped(_ x: Float) -> Float { Swift.min(Swift.max(x, -largest), largest) }
        var low = finiteHalf(clamped(Swift.min(min, max))), high = finiteHalf(clamped(Swift.max(min, max)))
        switch config.mode {
        case .linearSymmetric:
            let magnitude = Swift.max(abs(low), abs(high))
            (low, high) = (-magnitude, magnitude)
        case .linear:
            (low, high) = (Swift.min(0, low), Swift.max(0, high))
        }
        let width = finiteHalf(high - low)
        let symmetricZero: Int32 = config.dtype.isSigned ? 0 : codes.upperBound / 2
        guard width > 0 else { return Self(dtype: config.dtype, scale: 1, zeroPoint: config.mode == .linear && !config.dtype.isSigned ? 0 : symmetricZero) }
        let scale = finiteHalf(width / (qmax - qmin))
        let zeroPoint: Int32
        switch config.mode {
        case .linearSymmetric:
            zeroPoint = symmetricZero
        case .linear:
            // (qmin·max − qmax·min) / (max − min), each product and difference rounded to float16.
            let raw = finiteHalf(finiteHalf(finiteHalf(qmin * high) - finiteHalf(qmax * low)) / width)
            zeroPoint = Int32(Swift.min(Swift.max(raw.rounded(.toNearestOrEven), qmin), qmax))
        }
        return Self(dtype: config.dtype, scale: scale, zeroPoint: zeroPoint)
    }

    /// onnxruntime's rule (`compute_scale_zp` with the range `get_qmin_qmax_for_qType` gives, as
    /// `QDQQuantizer.calc_quant_params` calls them for an activation): the range is widened to
    /// hold 0 and, in symmetric mode, made ±max|x|; its width, a float32 difference, is divided
    /// by the code count in float64, and the float64 scale sets the zero point before it is
    /// stored as float32. A scale below float32's smallest normal gives scale 1 and zero point 0.
    /// Zero points round half to even (numpy's `round`). `mode` maps to onnxruntime's
    /// `ActivationSymmetric` extra option (`linear` is its default, False).
    ///
    /// A range that is not finite gives scale 1 and zero point 0 (onnxruntime would write an
    /// infinite or NaN scale).
    public static func onnxRuntime(min: Float, max: Float, _ config: ActivationQuantizationConfig.OpConfig) -> Self {
        let codes = codeRange(config.dtype, mode: config.mode)
        let qmin = Double(codes.lowerBound), qmax = Double(codes.upperBound)
        var low = Swift.min(min, 0), high = Swift.max(max, 0)
        if config.mode == .linearSymmetric {
            let magnitude = Swift.max(abs(low), abs(high))
            (low, high) = (-magnitude, magnitude)
        }
        let scale = Double(high - low) / (qmax - qmin)
        guard scale.isFinite, scale >= Double(Float.leastNormalMagnitude) else {
            return Self(dtype: config.dtype, scale: 1, zeroPoint: 0)
        }
        let zeroPoint = switch config.mode {
        // onnxruntime's symmetric zero point does not depend on the scale: the middle code.
        case .linearSymmetric: ((qmin + qmax) / 2).rounded(.toNearestOrEven)
        case .linear: (qmin - Double(low) / scale).rounded(.toNearestOrEven)
        }
        return Self(dtype: config.dtype, scale: Float(scale), zeroPoint: Int32(Swift.min(Swift.max(zeroPoint, qmin), qmax)))
    }

    /// `x` rounded to the nearest float16, as a Float; `x` itself where float16 overflows.
    static func finiteHalf(_ x: Float) -> Float {
        let rounded = FloatConversion.float(float16Bits: FloatConversion.float16Bits(x))
        return rounded.isFinite || !x.isFinite ? rounded : x
    }
}
