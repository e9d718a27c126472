/// coremltools' block sparsity (`compress_by_magnitude` with `block_size`): runs of
/// `blockSize` channels along `dim` (the last run padded with zeros) are scored by their L2
/// norm, every element takes its block's score, and the usual percentile cut applies to the
/// scores, weighted by the elements that carry them.
///
/// The norm is computed as numpy does it in the weight's dtype: squares rounded to the dtype,
/// then `np.sum` over the block axis. That sum is sequential with a rounding per step when
/// the block axis is not the innermost in memory, and numpy's pairwise float sum rounded once
/// when it is, which happens exactly when nothing follows `dim` (`inner == 1`: linear
/// weights along dim 1, 1×1 convolutions, `[C, 1]` along dim 0).
struct BlockSparsity {
    let layout: ChannelLayout
    let blockSize: Int
    let arithmetic: DTypeArithmetic

    var groups: Int { (layout.channels + blockSize - 1) / blockSize }

    /// Whether each element survives, or `.nonFiniteMagnitude`.
    func keepFlags<Source: WeightSource>(
        _ source: Source, targetSparsity: Double, percentileArithmetic: DTypeArithmetic
    ) -> Result<[Bool], QuantCoreError> {
        guard let norms = blockNorms(source) else { return .failure(.nonFiniteMagnitude) }
        let layout = layout
        let groups = groups
        let blockSize = blockSize
        let count = layout.outer * layout.channels * layout.inner
        let limit = norms.withUnsafeBufferPointer { norms in
            MagnitudeKeys.limit(targetSparsity: targetSparsity) {
                let percentile = NumpyPercentile(count: count, percent: targetSparsity * 100, arithmetic: percentileArithmetic)
                let items = BlockNormKeys(norms: norms, groups: groups, inner: layout.inner,
                                          blockSize: blockSize, channels: layout.channels)
                let keys = RankSelection.keys(atRanks: [percentile.lowerRank, percentile.upperRank], of: items)
                let cut = percentile.value(lower: Float(bitPattern: keys[0]), upper: Float(bitPattern: keys[1]))
                return MagnitudeKeys.largestKey(bits: 31, notAbove: cut) { Float(bitPattern: $0) }
            }
        }
        let normLimit = UInt32(clamping: max(limit, 0))
        let rows = layout.outer * layout.channels
        var flags = [Bool](repeating: false, count: count)
        flags.withUnsafeMutableBufferPointer { flags in
            norms.withUnsafeBufferPointer { norms in
                let chunks = ParallelChunks.chunkCount(items: rows, unitsPerItem: layout.inner)
                ParallelChunks.forEach(count: rows, chunks: chunks) { _, range in
                    for row in range {
                        let (outer, channel) = row.quotientAndRemainder(dividingBy: layout.channels)
                        let normBase = (outer * groups + channel / blockSize) * layout.inner
                        let base = row * layout.inner
                        for offset in 0..<layout.inner {
                            flags[base + offset] = norms[normBase + offset].bitPattern > normLimit
                                && source.magnitudeKey(at: base + offset) > 0
                        }
                    }
                }
            }
        }
        return .success(flags)
    }

    /// One norm per `[outer, group, inner]` block in that order, or nil if a weight is not finite.
    func blockNorms<Source: WeightSource>(_ source: Source) -> [Float]? {
        switch arithmetic {
        case .float16: blockNorms(source, Float16Rounding.self)
        case .float32: blockNorms(source, Float32Rounding.self)
        }
    }

    private func blockNorms<Source: WeightSource, Rounding: DTypeRounding>(
        _ source: Source, _: Rounding.Type
    ) -> [Float]? {
        let layout = layout
        let groups = groups
        let blockSize = blockSize
        let units = layout.outer * groups
        var norms = [Float](repeating: 0, count: units * layout.inner)
        let chunks = ParallelChunks.chunkCount(items: units, unitsPerItem: blockSize * layout.inner)
        let finite = norms.withUnsafeMutableBufferPointer { norms in
            ParallelChunks.allSatisfy(count: units, chunks: chunks) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: blockSize) { squares in
                    var allFinite = true
                    for unit in range {
                        let (outer, group) = unit.quotientAndRemainder(dividingBy: groups)
                        let first = outer * layout.channels + group * blockSize
                        let rowsInBlock = min(blockSize, layout.channels - group * blockSize)
                        let out = norms.baseAddress! + unit * layout.inner
                        if layout.inner == 1 {
                            for step in 0..<blockSize {
                                let value = step < rowsInBlock ? source[first + step] : 0
                                allFinite = allFinite && value.isFinite
                                squares[step] = Rounding.rounded(value * value)
                            }
                            out[0] = Rounding.rounded(Self.pairwiseSum(UnsafeBufferPointer(squares)))
                        } else {
                            // Padding rows add exact zeros, so they are left out.
                            for step in 0..<rowsInBlock {
                                let row = (first + step) * layout.inner
                                for offset in 0..<layout.inner {
                                    let value = source[row + offset]
                                    allFinite = allFinite && value.isFinite
                                    let square = Rounding.rounded(value * value)
                                    out[offset] = step == 0 ? square : Rounding.rounded(out[offset] + square)
                                }
                            }
                        }
                        for offset in 0..<layout.inner {
                            out[offset] = Rounding.rounded(out[offset].squareRoot())
                        }
                    }
                    return allFinite
                }
            }
        }
        return finite ? norms : nil
    }

    /// numpy's `pairwise_sum` in float (its float16 loops accumulate in float too): below 8
    /// terms a plain loop from −0, up to 128 eight interleaved partial sums, above that halves.
    static func pairwiseSum(_ terms: UnsafeBufferPointer<Float>) -> Float {
        let count = terms.count
        if count < 8 {
            var sum: Float = -0.0
            for term in terms { sum += term }
            return sum
        }
        if count <= 128 {
            var partial = (terms[0], terms[1], terms[2], terms[3], terms[4], terms[5], terms[6], terms[7])
            var index = 8
            while index < count - count % 8 {
                partial.0 += terms[index]; partial.1 += terms[index + 1]
                partial.2 += terms[index + 2]; partial.3 += terms[index + 3]
                partial.4 += terms[index + 4]; partial.5 += terms[index + 5]
                partial.6 += terms[index + 6]; partial.7 += terms[index + 7]
                index += 8
            }
            var sum = ((partial.0 + partial.1) + (partial.2 + partial.3)) + ((partial.4 + partial.5) + (partial.6 + partial.7))
            while index < count {
                sum += terms[index]
                index += 1
            }
            return sum
        }
        var half = count / 2
        half -= half % 8
        return pairwiseSum(UnsafeBufferPointer(rebasing: terms[..<half]))
            + pairwiseSum(UnsafeBufferPointer(rebasing: terms[half...]))
    }
}

/// Block norms as rank-selection items, each weighing the elements of its block (the last
/// group along `dim` may be short).
struct BlockNormKeys: WeightedKeys {
    let norms: UnsafeBufferPointer<Float>
    let groups: Int
    let inner: Int
    let blockSize: Int
    let channels: Int

    var itemCount: Int { norms.count }
    var keyBits: Int { 31 }
    @inline(__always) func key(at item: Int) -> UInt32 { norms[item].bitPattern }
    @inline(__always) func weight(at item: Int) -> Int {
        let group = (item / inner) % groups
        return min(blockSize, channels - group * blockSize)
    }
}
