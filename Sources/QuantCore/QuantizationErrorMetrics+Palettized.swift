extension QuantizationErrorMetrics {
    /// Compares little-endian weights of a floating `type` with their palettization `p` (which
    /// must be the palettization of these bytes, its LUT possibly replaced).
    ///
    /// One scalar LUT over F16 or BF16 weights, with no per-channel scale, reconstructs every
    /// element with the same value the same: its sums run over the at most 65536 distinct
    /// values the palettizer counted, each weighted by its count — no pass over the tensor,
    /// where dequantizing it and comparing element by element cost a third of a 4-bit k-means
    /// job. Any other form is compared element by element.
    public init(original bytes: UnsafeRawBufferPointer, type: ScalarType, palettized p: PalettizedTensor) {
        guard type == .float16 || type == .bfloat16, p.layout.groupCount == 1, p.clusterDim == 1,
              p.perChannelScale == nil, !p.indices.isEmpty, bytes.count == 2 * p.indices.count,
              let distinct = p.valueCounts else {
            self = p.dequantized().withUnsafeBufferPointer { Self(original: bytes, type: type, reconstructed: $0) }
            return
        }
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
