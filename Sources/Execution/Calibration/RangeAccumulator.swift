/// One tensor's values over every calibration batch: min and max (NaN ignored) and, for the
/// percentile method, a histogram of |x| in equal bins that grows (same bin width, more bins)
/// when a later batch goes further, as onnxruntime's histogram collector does.
struct RangeAccumulator: Sendable {
    private(set) var min = Float.infinity
    private(set) var max = -Float.infinity
    private var histogram: [Int]?
    private var binWidth: Float = 0

    static let initialBins = 2048
    /// Past this many bins, pairs of bins merge (the width doubles): memory stays bounded.
    static let binLimit = 1 << 16

    init(histogram: Bool) {
        self.histogram = histogram ? [] : nil
    }

    var hasValues: Bool { min <= max }

    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        var low = Float.infinity, high = -Float.infinity
        for v in values {
            low = Swift.min(low, v)
            high = Swift.max(high, v)
        }
        guard low <= high else { return }
        min = Swift.min(min, low)
        max = Swift.max(max, high)
        guard histogram != nil else { return }
        let magnitude = Swift.max(abs(low), abs(high))
        guard magnitude.isFinite else { return }
        if histogram!.isEmpty {
            binWidth = magnitude > 0 ? magnitude / Float(Self.initialBins) : 1
            histogram = [Int](repeating: 0, count: Self.initialBins)
        }
        while Float(histogram!.count) * binWidth < magnitude {
            if histogram!.count * 2 > Self.binLimit {
                histogram = stride(from: 0, to: histogram!.count, by: 2).map { histogram![$0] + (($0 + 1) < histogram!.count ? histogram![$0 + 1] : 0) }
                binWidth *= 2
            } else {
                histogram! += [Int](repeating: 0, count: histogram!.count)
            }
        }
        let last = histogram!.count - 1
        let inverse = 1 / binWidth
        histogram!.withUnsafeMutableBufferPointer { bins in
            for v in values where !v.isNaN {
                bins[Swift.min(Int(abs(v) * inverse), last)] += 1
            }
        }
    }

    /// The range the method reads: min/max, or ±(the percentile of |x|, at its bin's upper
    /// edge) clipped to min/max.
    func range(_ method: CalibrationMethod) -> TensorRange {
        guard case .percentile(let p) = method, let histogram, !histogram.isEmpty else { return TensorRange(min: min, max: max) }
        let total = histogram.reduce(0, +)
        let wanted = Double(total) * p / 100
        var seen = 0
        var edge = Float(histogram.count) * binWidth
        for (index, count) in histogram.enumerated() {
            seen += count
            if Double(seen) >= wanted {
                edge = Float(index + 1) * binWidth
                break
            }
        }
        return TensorRange(min: Swift.max(min, -edge), max: Swift.min(max, edge))
    }
}
