/// Exact weighted k-means in one dimension, as Ckmeans.1d.dp (Wang & Song 2011) computes it.
///
/// In 1-D every optimal cluster is a run of consecutive sorted values, so the optimum is a
/// dynamic programme over run boundaries: `D[c][t]` = least squared error of the first `t`
/// points in `c` clusters = min over `s` of `D[c−1][s] + cost(s, t)`. The squared-error cost
/// is Monge, so the best `s` never moves left as `t` grows, nor as `c` grows: each layer is
/// solved as divide and conquer would (in passes of rows halfway between solved ones, see
/// `Layer.solve`), every row searching only between its neighbours' splits and above its
/// split in the layer before: O(k·n log n), vectorised two candidates at a time.
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
        var splits = [Int32](repeating: 0, count: max(clusterCount - 1, 0) * (m + 1))
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
            for t in 1...m { current[t] = costs.cost(0, t) }
            let first = firstRows(costs, m: m, clusterCount: clusterCount)
            splits.withUnsafeMutableBufferPointer { splits in
                for clusters in 2..<clusterCount {
                    for t in first[clusters - 1]...m { base[t] = current[t] - q[t] }
                    let layer = Layer(weights: w, sums: s, squares: q, base: base, current: current,
                                      splits: splits.baseAddress! + (clusters - 2) * (m + 1),
                                      lower: clusters > 2 ? splits.baseAddress! + (clusters - 3) * (m + 1) : nil)
                    // The rest of the points must still fill the remaining clusters.
                    layer.solve(first[clusters], m - (clusterCount - clusters), splitsFrom: first[clusters - 1], to: m - 1,
                                parallel: parallel)
                }
                // The last layer is needed at t = m only.
                for t in first[clusterCount - 1]..<m { base[t] = current[t] - q[t] }
                let last = Layer(weights: w, sums: s, squares: q, base: base, current: current,
                                 splits: splits.baseAddress!, lower: nil)
                bounds[clusterCount - 1] = last.bestSplit(for: m, from: first[clusterCount - 1], to: m - 1).split
                for clusters in stride(from: clusterCount - 1, through: 2, by: -1) {
                    bounds[clusters - 1] = Int(splits[(clusters - 2) * (m + 1) + bounds[clusters]])
                }
            }
        }
        return bounds
    }

    /// The first row worth solving in each layer (indexed by cluster count; `first[c] ≥ c`, as
    /// a prefix of `t` points in `c` clusters needs `t ≥ c`).
    ///
    /// A split `s` of row `t` in layer `c` costs at least `cost(s, t)` (the layer below is ≥ 0),
    /// so if that alone exceeds an upper bound on `D[c][t]`, no split at or left of `s` is best
    /// at row `t`, nor (Monge) at any row after it: layer `c − 1` need not be solved there.
    /// Going down from the last layer, which needs row `m` only, each layer's first row bounds
    /// the one below. The upper bounds are the optimum over whole bins of `bin` candidates
    /// (same programme, same prefix sums: a partition into bins is a partition), at the first
    /// bin edge at or after `t` (more points never cost less); a margin far above rounding
    /// keeps every split that solving all rows could pick. On ResNet50's weights this skips
    /// about a quarter of the rows, the widest-searched ones.
    private static func firstRows(_ costs: Costs, m: Int, clusterCount: Int, bin: Int = 16) -> [Int] {
        var first = Array(0...clusterCount)
        let grid = Array(stride(from: 0, to: m, by: bin)) + [m]
        let mc = grid.count - 1
        guard mc > 2 * clusterCount else { return first }
        // errors[c · (mc + 1) + g]: least error of the first grid[g] candidates in c clusters.
        var errors = [Double](repeating: .infinity, count: (clusterCount + 1) * (mc + 1))
        var coarse = [Double](repeating: 0, count: 5 * (mc + 1))
        var coarseSplits = [Int32](repeating: 0, count: 2 * (mc + 1))
        coarse.withUnsafeMutableBufferPointer { coarse in
            coarseSplits.withUnsafeMutableBufferPointer { coarseSplits in
                let w = coarse.baseAddress!, s = w + (mc + 1), q = s + (mc + 1), base = q + (mc + 1), current = base + (mc + 1)
                for g in 0...mc {
                    w[g] = costs.w[grid[g]]
                    s[g] = costs.s[grid[g]]
                    q[g] = costs.q[grid[g]]
                }
                let binned = Costs(w: w, s: s, q: q)
                for g in 1...mc {
                    current[g] = binned.cost(0, g)
                    errors[mc + 1 + g] = current[g]
                }
                for clusters in 2...clusterCount {
                    for g in (clusters - 1)...mc { base[g] = current[g] - q[g] }
                    let layer = Layer(weights: w, sums: s, squares: q, base: base, current: current,
                                      splits: coarseSplits.baseAddress! + clusters % 2 * (mc + 1),
                                      lower: clusters > 2 ? coarseSplits.baseAddress! + (clusters - 1) % 2 * (mc + 1) : nil)
                    layer.solve(clusters, mc, splitsFrom: clusters - 1, to: mc - 1, parallel: false)
                    for g in clusters...mc { errors[clusters * (mc + 1) + g] = current[g] }
                }
            }
        }
        let margin = 1e-9 * costs.q[m]
        var row = m
        for clusters in stride(from: clusterCount, through: 3, by: -1) {
            let bound = errors[clusters * (mc + 1) + min((row + bin - 1) / bin, mc)] + margin
            // The least split whose own cost stays within the bound; cost(s, row) falls as s grows.
            var low = clusters - 1, high = row - 1
            while low < high {
                let middle = (low + high) / 2
                if costs.cost(middle, row) <= bound { high = middle } else { low = middle + 1 }
            }
            first[clusters - 1] = low
            row = low
        }
        return first
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
        /// The previous layer's splits, a lower bound on this layer's.
        let lower: UnsafePointer<Int32>?

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
            let from = max(left, lower.map { Int($0[t]) } ?? left)
            let (value, split) = bestSplit(for: t, from: from, to: min(t - 1, right))
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
