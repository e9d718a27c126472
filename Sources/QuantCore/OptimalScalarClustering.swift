/// Exact weighted k-means in one dimension, as Ckmeans.1d.dp (Wang & Song 2011) computes it.
///
/// In 1-D every optimal cluster is a run of consecutive sorted values, so the optimum is a
/// dynamic programme over run boundaries: `D[c][t]` = least squared error of the first `t`
/// points in `c` clusters = min over `s` of `D[c−1][s] + cost(s, t)`. The squared-error cost
/// is Monge, so the best `s` never moves left as `t` grows: each layer is solved as divide and
/// conquer would (in passes of rows halfway between solved ones, see `Layer.solve`), every row
/// searching only between its neighbours' splits: O(k·n log n), vectorised two candidates at a
/// time, and only over the rows near where an optimal boundary can lie (`BoundaryWindows`).
/// (SMAWK's O(k·n) measured no faster on real weights: ~11 cost evaluations per row either
/// way, and its bookkeeping branches unpredictably.) Costs come from prefix sums of w, w·x
/// and w·x² (x centred on the mean, which keeps the subtraction in `cost` from cancelling).
///
/// More than `defaultMaximumCandidates` distinct values (possible only for float32 weights)
/// are first binned into that many runs of consecutive values: the programme is then exact over
/// partitions that keep bins whole, and Lloyd steps on the unbinned values (which never
/// increase the error) move the boundaries to a local optimum from there.
enum OptimalScalarClustering {
    static let defaultMaximumCandidates = 1 << 16

    /// Cluster means, ascending: `min(clusterCount, points.count)` of them.
    ///
    /// With `parallel`, the upper levels of each layer's divide and conquer run on all cores.
    static func centroids(
        of points: DistinctValues, clusterCount: Int, parallel: Bool, maximumCandidates: Int = defaultMaximumCandidates
    ) -> [Double] {
        let count = points.count
        guard count > clusterCount else { return points.values.map(Double.init) }
        let candidates = min(count, max(maximumCandidates, clusterCount))
        let positions = (0...candidates).map { $0 * count / candidates }
        var bounds = points.values.withUnsafeBufferPointer { values in
            points.weights.withUnsafeBufferPointer { weights in
                let boundaries = optimalBoundaries(values: values, weights: weights, positions: positions,
                                                   clusterCount: clusterCount, parallel: parallel)
                return boundaries.map { positions[$0] }
            }
        }
        var centroids = means(points, bounds: bounds, previous: [])
        if candidates < count {
            for _ in 0..<1000 {
                let refined = lloydBounds(points, centroids: centroids)
                if refined == bounds { break }
                bounds = refined
                centroids = means(points, bounds: bounds, previous: centroids)
            }
        }
        return centroids
    }

    /// Indices into `positions` of the `clusterCount + 1` optimal cluster boundaries.
    private static func optimalBoundaries(
        values: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Double>,
        positions: [Int], clusterCount: Int, parallel: Bool
    ) -> [Int] {
        let m = positions.count - 1
        guard clusterCount > 1 else { return [0, m] }
        var totalWeight = 0.0, totalSum = 0.0
        for index in values.indices {
            totalWeight += weights[index]
            totalSum += weights[index] * Double(values[index])
        }
        let shift = totalSum / totalWeight
        // w, s, q prefix sums, then the previous layer's D − q, then the current layer's D.
        var prefix = [Double](repeating: 0, count: 5 * (m + 1))
        // Rows outside a layer's window are never written nor read.
        let splitCount = max(clusterCount - 1, 0) * (m + 1)
        var splits = [Int32](unsafeUninitializedCapacity: splitCount) { _, initialized in initialized = splitCount }
        var bounds = [Int](repeating: 0, count: clusterCount + 1)
        bounds[clusterCount] = m
        prefix.withUnsafeMutableBufferPointer { prefix in
            let w = prefix.baseAddress!, s = w + (m + 1), q = s + (m + 1)
            for t in 0..<m {
                var weight = 0.0, sum = 0.0, squares = 0.0
                for index in positions[t]..<positions[t + 1] {
                    let c = weights[index], x = Double(values[index]) - shift
                    weight += c
                    sum += c * x
                    squares += c * x * x
                }
                w[t + 1] = w[t] + weight
                s[t + 1] = s[t] + sum
                q[t + 1] = q[t] + squares
            }
            let costs = Costs(w: w, s: s, q: q)
            let base = q + (m + 1), current = base + (m + 1)
            let windows = BoundaryWindows(costs, m: m, clusterCount: clusterCount)
            var below = windows.rows[1]
            for t in below { current[t] = costs.cost(0, t) }
            splits.withUnsafeMutableBufferPointer { splits in
                for clusters in 2..<clusterCount {
                    below = windows.narrowed(below, clusters: clusters - 1, errors: current)
                    for t in below { base[t] = current[t] - q[t] }
                    let layer = Layer(weights: w, sums: s, squares: q, base: base, current: current,
                                      splits: splits.baseAddress! + (clusters - 2) * (m + 1))
                    let rows = windows.rows[clusters]
                    let low = max(rows.lowerBound, below.lowerBound + 1)
                    layer.solve(low, rows.upperBound, splitsFrom: below.lowerBound, to: below.upperBound, parallel: parallel)
                    below = low...rows.upperBound
                }
                // The last layer is needed at t = m only.
                below = windows.narrowed(below, clusters: clusterCount - 1, errors: current)
                for t in below { base[t] = current[t] - q[t] }
                let last = Layer(weights: w, sums: s, squares: q, base: base, current: current,
                                 splits: splits.baseAddress!)
                bounds[clusterCount - 1] = last.bestSplit(for: m, from: below.lowerBound, to: min(below.upperBound, m - 1)).split
                for clusters in stride(from: clusterCount - 1, through: 2, by: -1) {
                    bounds[clusters - 1] = Int(splits[(clusters - 2) * (m + 1) + bounds[clusters]])
                }
            }
        }
        return bounds
    }

    /// The rows worth solving in each layer (indexed by cluster count, 1 to `clusterCount − 1`):
    /// the prefix lengths `t` that the `c`-th boundary of an optimal partition can take.
    ///
    /// A boundary at `t` costs the best `c` clusters of the points before it plus the best
    /// `clusterCount − c` of those from it on; where lower bounds on the two already exceed an
    /// upper bound on the optimum, no optimal partition puts its boundary there. Bounds come
    /// from the same programme over bins of candidates, coarse bins first: any partition into
    /// whole bins bounds the optimum from above; from below, each cluster costs at least its
    /// whole bins (fewer points never cost more), which drops at most the bin a boundary cuts,
    /// and finer bins are solved only inside the windows the coarser ones leave. So each
    /// layer is solved over a window around its boundary, its splits searched in the window
    /// below, `narrowed` once that layer's exact errors replace the prefix bounds: on
    /// ResNet50's weights a tenth to a third of the rows. Every partition inside the windows is
    /// still considered, so the optimum and its ties come out as over all rows; a margin far
    /// above rounding keeps every boundary that solving all rows could pick.
    private struct BoundaryWindows {
        private(set) var rows: [ClosedRange<Int>]
        private let clusterCount: Int
        /// `suffixes[c · (binCount + 1) + binCount − g]`: a lower bound on the error of the
        /// points from bin edge `g` of the last level on in `c` clusters; empty when there are
        /// too few bins.
        private var bin: Int, binCount: Int, suffixes: [Double]
        private var bound: Double

        /// Bounds from bins of each of `bins` in turn, each level's programmes solved only over
        /// the windows the level before left (widened by a bin each side, so that every bin edge
        /// next to a boundary they allow stays in).
        init(_ costs: Costs, m: Int, clusterCount: Int, bins: [Int] = [256, 64, 16]) {
            let all = (0...clusterCount).map { $0...(m - (clusterCount - $0)) }
            self.clusterCount = clusterCount
            (rows, bin, binCount, suffixes, bound) = (all, 1, 0, [], .infinity)
            for bin in bins { narrow(costs, m: m, bin: bin) }
        }

        private mutating func narrow(_ costs: Costs, m: Int, bin: Int) {
            let grid = Array(stride(from: 0, to: m, by: bin)) + [m]
            let mc = grid.count - 1
            guard mc > 2 * clusterCount else { return }
            let binRows = rows.map { max(0, $0.lowerBound / bin - 1)...min(mc, ($0.upperBound + bin - 1) / bin + 1) }
            let mirrored = binRows.reversed().map { (mc - $0.upperBound)...(mc - $0.lowerBound) }
            // Prefix sums at the bin edges, forwards and (as sums from the end) backwards.
            var sums = [Double](repeating: 0, count: 6 * (mc + 1))
            let k = clusterCount
            let (upper, prefixes, suffixes) = sums.withUnsafeMutableBufferPointer { sums in
                let w = sums.baseAddress!, s = w + (mc + 1), q = s + (mc + 1)
                let wr = q + (mc + 1), sr = wr + (mc + 1), qr = sr + (mc + 1)
                for g in 0...mc {
                    w[g] = costs.w[grid[g]]; s[g] = costs.s[grid[g]]; q[g] = costs.q[grid[g]]
                    let edge = grid[mc - g]
                    wr[g] = costs.w[m] - costs.w[edge]; sr[g] = costs.s[m] - costs.s[edge]; qr[g] = costs.q[m] - costs.q[edge]
                }
                let forwards = Costs(w: w, s: s, q: q), backwards = Costs(w: wr, s: sr, q: qr)
                return (binErrors(forwards, count: mc, clusterCount: k, cutBins: false, windows: binRows),
                        binErrors(forwards, count: mc, clusterCount: k - 1, cutBins: true, windows: binRows),
                        binErrors(backwards, count: mc, clusterCount: k - 1, cutBins: true, windows: mirrored))
            }
            let bound = min(upper[k * (mc + 1) + mc] + 1e-9 * costs.q[m], self.bound)
            (self.bin, self.binCount, self.suffixes, self.bound) = (bin, mc, suffixes, bound)
            for clusters in 1..<k {
                // Prefix bound at the bin edge at or before t, suffix bound at the one at or after.
                func feasible(_ before: Int, _ after: Int) -> Bool {
                    prefixes[clusters * (mc + 1) + before] + suffixes[(k - clusters) * (mc + 1) + mc - after] <= bound
                }
                var low = Int.max, high = Int.min
                for g in binRows[clusters] where g < mc {
                    if feasible(g, g) { low = min(low, grid[g]); high = max(high, grid[g]) }
                    if feasible(g, g + 1) { low = min(low, grid[g] + 1); high = max(high, grid[g + 1] - 1) }
                }
                if feasible(mc, mc) { low = min(low, m); high = max(high, m) }
                let range = rows[clusters]
                if low <= range.upperBound && high >= range.lowerBound {
                    rows[clusters] = max(low, range.lowerBound)...min(high, range.upperBound)
                }
            }
        }

        /// The rows of `window`, solved for `clusters` clusters with least errors `errors`, that
        /// can still hold that boundary: the exact prefix error in place of its bound.
        func narrowed(_ window: ClosedRange<Int>, clusters: Int, errors: UnsafePointer<Double>) -> ClosedRange<Int> {
            guard !suffixes.isEmpty else { return window }
            let suffix = (clusterCount - clusters) * (binCount + 1) + binCount
            func feasible(_ t: Int) -> Bool {
                errors[t] + suffixes[suffix - (t + bin - 1) / bin] <= bound
            }
            guard let low = window.first(where: feasible), let high = window.reversed().first(where: feasible) else {
                return window
            }
            return low...high
        }
    }

    /// `errors[c · (count + 1) + g]`, for `c` up to `clusterCount`: the least error of the first
    /// `g` bins in `c` clusters of whole bins; or with `cutBins`, a lower bound on that of the
    /// first `g` bins' points in `c` clusters of any points, where each boundary may drop
    /// the bin it cuts (and a cluster inside one bin has nothing left). Only the bin edges in
    /// `windows[c]` are solved (the rest stay +∞): those next to the boundaries of interest.
    private static func binErrors(_ costs: Costs, count mc: Int, clusterCount: Int, cutBins: Bool,
                                  windows: [ClosedRange<Int>]) -> [Double] {
        var errors = [Double](repeating: .infinity, count: (clusterCount + 1) * (mc + 1))
        var layers = [Double](repeating: 0, count: 2 * (mc + 1))
        var splits = [Int32](repeating: 0, count: mc + 1)
        errors.withUnsafeMutableBufferPointer { errors in
            layers.withUnsafeMutableBufferPointer { layers in
                splits.withUnsafeMutableBufferPointer { splits in
                    let base = layers.baseAddress!, current = base + (mc + 1)
                    let first = errors.baseAddress! + (mc + 1)
                    first[0] = 0
                    for g in windows[1] where g > 0 { first[g] = costs.cost(0, g) }
                    guard clusterCount > 1 else { return }
                    for clusters in 2...clusterCount {
                        let previous = errors.baseAddress! + (clusters - 1) * (mc + 1)
                        let next = previous + (mc + 1)
                        let lowest = cutBins ? 1 : clusters
                        let splitsFrom = max(lowest - 1, windows[clusters - 1].lowerBound)
                        let low = max(lowest, windows[clusters].lowerBound, splitsFrom + 1)
                        guard splitsFrom <= windows[clusters - 1].upperBound, low <= windows[clusters].upperBound else { continue }
                        let below = splitsFrom...windows[clusters - 1].upperBound, rows = low...windows[clusters].upperBound
                        for g in below { base[g] = previous[g] - costs.q[g] }
                        let layer = Layer(weights: costs.w, sums: costs.s, squares: costs.q, base: base, current: current,
                                          splits: splits.baseAddress!)
                        layer.solve(rows.lowerBound, rows.upperBound, splitsFrom: below.lowerBound,
                                    to: min(below.upperBound, mc - 1), parallel: false)
                        for g in rows {
                            next[g] = current[g]
                            if cutBins {
                                let left = g > rows.lowerBound ? current[g - 1] : .infinity
                                next[g] = min(next[g], left, previous[g], previous[g - 1])
                            }
                        }
                        if cutBins { next[0] = 0 }
                    }
                }
            }
        }
        return errors
    }

    private struct Costs {
        let w: UnsafePointer<Double>, s: UnsafePointer<Double>, q: UnsafePointer<Double>

        /// Squared error of candidates `a..<b` around their mean.
        @inline(__always) func cost(_ a: Int, _ b: Int) -> Double {
            let sum = s[b] - s[a]
            return (q[b] - q[a]) - sum * sum / (w[b] - w[a])
        }
    }

    /// One DP layer: `D[t]` = min over `s < t` of `D′[s] + cost(s, t)`, with `D′ − q` in `base`.
    private struct Layer {
        let weights: UnsafePointer<Double>, sums: UnsafePointer<Double>, squares: UnsafePointer<Double>
        let base: UnsafePointer<Double>
        let current: UnsafeMutablePointer<Double>
        let splits: UnsafeMutablePointer<Int32>

        /// Least `D′[s] + cost(s, t) − q[t]` over `s` in `from...to`, the leftmost on ties.
        /// Two candidates per step so that their divisions overlap. Rows search only a few
        /// candidates each, so the odd one out and the final pick are branch-free: a
        /// mispredicted branch costs more than the division it would skip.
        @inline(__always)
        func bestSplit(for t: Int, from: Int, to: Int) -> (value: Double, split: Int) {
            let sumT = sums[t], weightT = weights[t]
            let sumsT = SIMD2<Double>(repeating: sumT), weightsT = SIMD2<Double>(repeating: weightT)
            var best = SIMD2<Double>(repeating: .infinity)
            var bestIndex = SIMD2<Int64>(repeating: Int64(from))
            var candidate = SIMD2<Int64>(Int64(from), Int64(from) + 1)
            var index = from
            while index < to {
                let b = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD2<Double>.self)
                let sum = UnsafeRawPointer(sums + index).loadUnaligned(as: SIMD2<Double>.self)
                let weight = UnsafeRawPointer(weights + index).loadUnaligned(as: SIMD2<Double>.self)
                let difference = sumsT - sum
                let value = b - difference * difference / (weightsT - weight)
                let better = value .< best
                best.replace(with: value, where: better)
                bestIndex.replace(with: candidate, where: better)
                candidate &+= 2
                index += 2
            }
            // `index` is `to` (one candidate left) or `to + 1 ≤ t`, whose value is discarded.
            let difference = sumT - sums[index]
            let tail = base[index] - difference * difference / (weightT - weights[index])
            let tailValue = index == to ? tail : .infinity
            // Leftmost least of lane 0, lane 1 and the tail (which lies right of both).
            let second = best[1] < best[0] || (best[1] == best[0] && bestIndex[1] < bestIndex[0])
            var value = second ? best[1] : best[0]
            var split = Int(second ? bestIndex[1] : bestIndex[0])
            let last = tailValue < value
            value = last ? tailValue : value
            split = last ? index : split
            return (value + squares[t], split)
        }

        /// Fills rows `low...high`, whose best splits lie in `splitsFrom...to`.
        ///
        /// Row `low` first, then passes over the rows halfway between solved ones, each row
        /// searching between its two nearest solved neighbours' splits, as divide and conquer
        /// would; but the rows of a pass do not wait on each other, so the processor overlaps
        /// their divisions and mispredictions. With `parallel`, the first two passes are made
        /// alone and the four blocks between their rows then filled on all cores: every row
        /// still gets the same neighbours, so the result does not depend on it.
        func solve(_ low: Int, _ high: Int, splitsFrom: Int, to: Int, parallel: Bool) {
            guard low <= high else { return }
            row(low, left: splitsFrom, right: to)
            let count = high - low + 1
            var span = 1
            while span < count { span <<= 1 }
            guard parallel && count >= 8192 else {
                passes(from: low, span: span, downTo: 1, high: high, to: to)
                return
            }
            let block = span / 4
            passes(from: low, span: span, downTo: block, high: high, to: to)
            ParallelChunks.forEach(count: 4, chunks: 4) { _, blocks in
                for start in blocks.map({ low + $0 * block }) where start < high {
                    passes(from: start, span: block, downTo: 1, high: high, to: to)
                }
            }
        }

        /// Rows `start + half`, `start + half + stride`, … below `start + span` and up to `high`,
        /// for strides from `span` down to `finest`, halving; rows `start` and `start + span`
        /// (if not past `high`) are solved.
        private func passes(from start: Int, span: Int, downTo finest: Int, high: Int, to: Int) {
            var stride = span
            while stride > finest {
                let half = stride / 2
                for t in Swift.stride(from: start + half, to: min(start + span, high + 1), by: stride) {
                    row(t, left: Int(splits[t - half]), right: t + half <= high ? Int(splits[t + half]) : to)
                }
                stride = half
            }
        }

        /// Solves row `t` given bounds on its split from its solved neighbours.
        @inline(__always) private func row(_ t: Int, left: Int, right: Int) {
            let (value, split) = bestSplit(for: t, from: left, to: min(t - 1, right))
            current[t] = value
            splits[t] = Int32(split)
        }
    }

    /// Weighted mean of each run `bounds[i]..<bounds[i+1]`; an empty run keeps its previous mean.
    private static func means(_ points: DistinctValues, bounds: [Int], previous: [Double]) -> [Double] {
        (0..<(bounds.count - 1)).map { cluster in
            var weight = 0.0, sum = 0.0
            for index in bounds[cluster]..<bounds[cluster + 1] {
                weight += points.weights[index]
                sum += points.weights[index] * Double(points.values[index])
            }
            return weight > 0 ? sum / weight : previous[cluster]
        }
    }

    /// The runs that nearest-centroid assignment makes, ties going to the lower centroid.
    private static func lloydBounds(_ points: DistinctValues, centroids: [Double]) -> [Int] {
        var bounds = [0]
        for cluster in 1..<centroids.count {
            let midpoint = (centroids[cluster - 1] + centroids[cluster]) / 2
            var low = bounds[cluster - 1], high = points.count
            while low < high {
                let probe = (low + high) / 2
                if Double(points.values[probe]) > midpoint { high = probe } else { low = probe + 1 }
            }
            bounds.append(low)
        }
        bounds.append(points.count)
        return bounds
    }
}
