/// coremltools' uniform LUT (`compress_uniform`) with numpy's arithmetic, so that LUT and
/// indices come out identical:
/// - `scale = (max − min) / (2^nbits − 1)`, each step rounded to the weight's dtype;
/// - `lut[i] = i · scale + min` in float64 (an int64 array times a dtype scalar), rounded once;
/// - `index = round(((w − min) / (max − min)) · (2^nbits − 1))`, each step rounded to the
///   dtype, half to even. A constant group divides 0 by 0; numpy's NaN-to-uint8 cast gives 0.
struct UniformPalette: Sendable {
    let minimum: Float
    let range: Float
    let levels: Float
    let type: ScalarType
    let lut: [Float]

    init(minimum: Float, maximum: Float, nbits: Int, type: ScalarType) {
        let levels = Float((1 << nbits) - 1)
        let range = FloatConversion.rounded(maximum - minimum, to: type)
        let scale = FloatConversion.rounded(range / levels, to: type)
        self.minimum = minimum
        self.range = range
        self.levels = levels
        self.type = type
        self.lut = (0..<(1 << nbits)).map { step in
            FloatConversion.rounded(Double(step) * Double(scale) + Double(minimum), to: type)
        }
    }

    @inline(__always)
    func index(of value: Float) -> UInt8 {
        guard range != 0 else { return 0 }
        let offset = FloatConversion.rounded(value - minimum, to: type)
        let fraction = FloatConversion.rounded(offset / range, to: type)
        let scaled = FloatConversion.rounded(fraction * levels, to: type)
        return UInt8(scaled.rounded(.toNearestOrEven))
    }
}
