/// How a tensor's range is read from the calibration samples.
public enum CalibrationMethod: Sendable, Equatable {
    /// The smallest and largest value over every sample, as coremltools (after its 9.0 fix) and
    /// onnxruntime's MinMax calibrator take it.
    case minMax
    /// The given percentile (e.g. 99.99) of |x| over every sample, clipped to the min/max seen,
    /// as onnxruntime's Percentile calibrator with a symmetric range: a few outliers no longer
    /// stretch the scale of every other value.
    case percentile(Double)

    /// onnxruntime's default percentile.
    public static let defaultPercentile = 99.999
}
