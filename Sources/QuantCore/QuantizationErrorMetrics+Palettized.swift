extension QuantizationErrorMetrics {
    /// Compares F16 or BF16 weights with a one-LUT scalar palettization of them (no
    /// per-channel scale), from the distinct values the palettizer counted; nil for any other
    /// form, which callers measure densely. `p` must be the palettization of these bytes.
    ///
    /// Every element with the same value is reconstructed the same, so the sums run over the
    /// at most 65536 distinct values, each counted: no pass over the tensor at all, where
    /// dequantizing it and comparing element by element cost a fifth of k-means palettization.
    public init?(original bytes: UnsafeRawBufferPointer, type: ScalarType, palettized p: PalettizedTensor) {
        guard type == .float16 || type == .bfloat16, p.layout.groupCount == 1, p.clusterDim == 1,
              p.perChannelScale == nil, !p.indices.isEmpty, bytes.count == 2 * p.indices.count,
              let distinct = p.valueCounts else { return nil }
        var partial = Partial()
        for (index, value) in distinct.values.enumerated() {
            let c = distinct.counts[index]
            let w = Double(value)
            let r = Double(p.lut[Int(distinct.entries[index])])
            let e = w - r
            partial.signal += c * w * w
            partial.noise += c * e * e
            partial.dot += c * w * r
            partial.reconstructed += c * r * r
            partial.maxError = max(partial.maxError, abs(e))
            partial.zeros += r == 0 ? Int(c) : 0
        }
        self.init(partial, count: p.indices.count)
    }
}
