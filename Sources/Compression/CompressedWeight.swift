import QuantCore

/// One weight through the core: its form, how far its decompressed values are from the
/// original, and what the user should be told about it.
public struct CompressedWeight: Sendable {
    public var candidate: WeightCandidate
    public var form: CompressedForm
    /// nil for unchanged weights.
    public var metrics: QuantizationErrorMetrics?
    public var warnings: [String]

    public init(candidate: WeightCandidate, form: CompressedForm, metrics: QuantizationErrorMetrics? = nil, warnings: [String] = []) {
        self.candidate = candidate
        self.form = form
        self.metrics = metrics
        self.warnings = warnings
    }

    /// Distinct stored values: codes for linear forms, used LUT entries for palettized ones.
    public var uniqueValues: Int? {
        switch form {
        case .linear(let q): q.distinctCodes
        case .palettized(let p, _): p.lut.count / max(1, p.clusterDim)
        default: nil
        }
    }
}
