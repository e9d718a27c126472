/// coremltools' n:m pruning (`compress_by_nm_sparsity`): along `dim`, every run of `m`
/// channels (the last one padded with zeros) loses its `n` smallest magnitudes.
///
/// coremltools picks them with `np.argsort(|w|)[:, :n]`. Among equal magnitudes the earlier
/// element goes first here (a stable order), which is what numpy does for float16 with
/// m ≤ 16 (insertion sort); for float32 numpy's SIMD argsort orders ties by CPU-dependent
/// sorting networks, so ties straddling the n-th place may be resolved differently.
///
/// Padding zeros count among the n: a short last run of r channels loses only its
/// `n − (m − r)` smallest.
struct NOfMSparsity {
    let layout: ChannelLayout
    let n: Int
    let m: Int

    func keepFlags<Source: WeightSource>(_ source: Source) -> Result<[Bool], QuantCoreError> {
        let layout = layout
        let n = n
        let m = m
        let groups = (layout.channels + m - 1) / m
        let units = layout.outer * groups
        let infinity = UInt32(MagnitudeKeys.largestKey(of: source, notAbove: .greatestFiniteMagnitude) + 1)
        var flags = [Bool](repeating: false, count: layout.outer * layout.channels * layout.inner)
        let chunks = ParallelChunks.chunkCount(items: units, unitsPerItem: m * layout.inner)
        let finite = flags.withUnsafeMutableBufferPointer { flags in
            ParallelChunks.allSatisfy(count: units, chunks: chunks) { range in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: m) { keys in
                    var allFinite = true
                    for unit in range {
                        let (outer, group) = unit.quotientAndRemainder(dividingBy: groups)
                        let first = group * m
                        let rows = min(m, layout.channels - first)
                        let pruned = n - (m - rows)
                        let base = (outer * layout.channels + first) * layout.inner
                        for offset in 0..<layout.inner {
                            for row in 0..<rows {
                                keys[row] = source.magnitudeKey(at: base + row * layout.inner + offset)
                                allFinite = allFinite && keys[row] < infinity
                            }
                            for row in 0..<rows {
                                // Position in a stable ascending order: equal keys before `row` come first.
                                let key = keys[row]
                                var rank = 0
                                for other in 0..<row { rank &+= keys[other] <= key ? 1 : 0 }
                                for other in (row + 1)..<rows { rank &+= keys[other] < key ? 1 : 0 }
                                flags[base + row * layout.inner + offset] = rank >= pruned && key > 0
                            }
                        }
                    }
                    return allFinite
                }
            }
        }
        return finite ? .success(flags) : .failure(.nonFiniteMagnitude)
    }
}
