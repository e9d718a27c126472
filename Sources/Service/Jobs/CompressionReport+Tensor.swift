import Compression

extension CompressionReport.Tensor {
    /// A weight's report line, whatever its format: `bytesAfter` is what the format stored for
    /// it; `mode` prefixes the core's summary with the format's own words (Core ML's ops).
    init(_ w: CompressedWeight, bytesAfter: Int, modePrefix: String? = nil) {
        let c = w.candidate
        let before = c.byteCount
        switch w.form {
        case .unchanged(let reason):
            self.init(name: c.name, shape: c.shape, dtype: c.type.rawValue, action: "unchanged", reason: reason.description, mode: nil,
                      bytesBefore: before, bytesAfter: before, bitsPerWeight: Double(c.type.byteWidth * 8),
                      sqnrDB: nil, maxAbsError: nil, cosine: nil, sparsity: nil, uniqueValues: nil)
        default:
            let summary = w.form.summary ?? ""
            let sqnr = w.metrics.map(\.sqnrDB).flatMap { $0.isFinite ? $0 : nil }
            self.init(name: c.name, shape: c.shape, dtype: c.type.rawValue, action: "compressed", reason: nil,
                      mode: modePrefix.map { "\($0): \(summary)" } ?? summary,
                      bytesBefore: before, bytesAfter: bytesAfter, bitsPerWeight: Double(bytesAfter * 8) / Double(max(1, c.elementCount)),
                      sqnrDB: sqnr, maxAbsError: w.metrics?.maxAbsError, cosine: w.metrics?.cosine,
                      sparsity: w.metrics?.sparsity, uniqueValues: w.uniqueValues)
        }
    }
}
