import Foundation

/// Weighted k-means on vectors, for vector palettization where 1-D dynamic programming does
/// not apply: greedy k-means++ seeding (scikit-learn's, `2 + ln k` trials per centre) from
/// fixed seeds, then Lloyd iterations until no assignment changes (empty clusters moved to
/// the costliest points), keeping the best seed. Small problems get up to 64 seeds.
///
/// coremltools runs scikit-learn once (`n_init=1`) and stops at `tol=1e-2`, well short of
/// convergence; converging from many seeds is what keeps this at or below its error. Work is cut into fixed-size chunks summed in order, so results do not depend
/// on the core count.
enum VectorKMeans {
    /// Points per chunk of the assignment step.
    static let chunkSize = 1 << 14
    static let maximumIterations = 100

    /// `min(clusterCount, points.count)` centroids, row-major `[k, dimension]`.
    /// `seeds` defaults to as many restarts as fit a fixed budget: up to 64 on small tensors,
    /// where one unlucky seeding shows most.
    static func centroids(of points: DistinctVectors, clusterCount: Int, parallel: Bool, seeds: Int? = nil) -> [Double] {
        let d = points.dimension
        guard points.count > clusterCount else { return points.values.map(Double.init) }
        let work = points.count * clusterCount * d
        let seeds = seeds ?? max(1, min(64, (1 << 24) / max(work, 1)))
        var best: (centroids: [Double], inertia: Double)?
        for seed in 0..<seeds {
            var centroids = seeded(points, clusterCount: clusterCount, seed: UInt64(seed))
            let inertia = lloyd(points, centroids: &centroids, parallel: parallel)
            if best == nil || inertia < best!.inertia { best = (centroids, inertia) }
        }
        return best!.centroids
    }

    @inline(__always)
    private static func distance(_ x: UnsafePointer<Float>, _ c: UnsafePointer<Double>, _ d: Int) -> Double {
        var total = 0.0
        for component in 0..<d {
            let difference = Double(x[component]) - c[component]
            total += difference * difference
        }
        return total
    }

    /// Greedy k-means++: each new centre is the best, by resulting potential, of a few points
    /// drawn with probability proportional to weight × squared distance to the nearest centre.
    private static func seeded(_ points: DistinctVectors, clusterCount: Int, seed: UInt64) -> [Double] {
        let n = points.count, d = points.dimension
        var random = SplitMix64(seed: seed)
        let trials = 2 + Int(log(Double(clusterCount)))
        var centroids = [Double](repeating: 0, count: clusterCount * d)
        var nearest = [Double](repeating: 0, count: n)
        var cumulative = [Double](repeating: 0, count: n)
        var candidate = [Double](repeating: 0, count: d)
        points.values.withUnsafeBufferPointer { values in
            let x = values.baseAddress!
            let weights = points.weights
            /// A point drawn with probability proportional to `cumulative`'s increments.
            func draw() -> Int {
                let target = random.unit() * cumulative[n - 1]
                var low = 0, high = n - 1
                while low < high {
                    let probe = (low + high) / 2
                    if cumulative[probe] > target { high = probe } else { low = probe + 1 }
                }
                return low
            }
            func place(_ point: Int, as cluster: Int) {
                for component in 0..<d { centroids[cluster * d + component] = Double(x[point * d + component]) }
                centroids.withUnsafeBufferPointer { c in
                    let centre = c.baseAddress! + cluster * d
                    for index in 0..<n {
                        let distance = distance(x + index * d, centre, d)
                        nearest[index] = cluster == 0 ? distance : min(nearest[index], distance)
                    }
                }
            }
            var total = 0.0
            for index in 0..<n {
                total += weights[index]
                cumulative[index] = total
            }
            place(draw(), as: 0)
            for cluster in 1..<clusterCount {
                total = 0
                for index in 0..<n {
                    total += weights[index] * nearest[index]
                    cumulative[index] = total
                }
                var bestPotential = Double.infinity, bestPoint = 0
                for _ in 0..<trials {
                    let point = draw()
                    for component in 0..<d { candidate[component] = Double(x[point * d + component]) }
                    var potential = 0.0
                    candidate.withUnsafeBufferPointer { c in
                        for index in 0..<n {
                            potential += weights[index] * min(nearest[index], distance(x + index * d, c.baseAddress!, d))
                        }
                    }
                    if potential < bestPotential { bestPotential = potential; bestPoint = point }
                }
                place(bestPoint, as: cluster)
            }
        }
        return centroids
    }

    /// Per-chunk sums of one assignment step.
    private struct Partial {
        var sums: [Double]
        var weights: [Double]
        var inertia = 0.0
        var changed = false
    }

    /// Lloyd iterations from `centroids` until assignments settle; returns the final inertia.
    /// A cluster that loses all its points keeps its centroid.
    private static func lloyd(_ points: DistinctVectors, centroids: inout [Double], parallel: Bool) -> Double {
        let n = points.count, d = points.dimension, k = centroids.count / d
        let chunks = (n + chunkSize - 1) / chunkSize
        var labels = [Int32](repeating: -1, count: n)
        var inertia = Double.infinity
        for _ in 0..<maximumIterations {
            var partials = [Partial](repeating: Partial(sums: [Double](repeating: 0, count: k * d),
                                                       weights: [Double](repeating: 0, count: k)), count: chunks)
            points.values.withUnsafeBufferPointer { values in
                points.weights.withUnsafeBufferPointer { weights in
                    centroids.withUnsafeBufferPointer { c in
                        labels.withUnsafeMutableBufferPointer { labelBuffer in
                            partials.withUnsafeMutableBufferPointer { partialBuffer in
                                let labels = labelBuffer, partials = partialBuffer
                                let x = values.baseAddress!, c = c.baseAddress!
                                let run = { (chunk: Int, _: Range<Int>) in
                                    var partial = partials[chunk]
                                    for index in (chunk * chunkSize)..<min(n, (chunk + 1) * chunkSize) {
                                        let point = x + index * d
                                        var best = Double.infinity, label = 0
                                        for cluster in 0..<k {
                                            let distance = distance(point, c + cluster * d, d)
                                            if distance < best { best = distance; label = cluster }
                                        }
                                        let weight = weights[index]
                                        partial.inertia += weight * best
                                        partial.weights[label] += weight
                                        for component in 0..<d { partial.sums[label * d + component] += weight * Double(point[component]) }
                                        if labels[index] != Int32(label) {
                                            labels[index] = Int32(label)
                                            partial.changed = true
                                        }
                                    }
                                    partials[chunk] = partial
                                }
                                if parallel {
                                    ParallelChunks.forEach(count: chunks, chunks: chunks, run)
                                } else {
                                    for chunk in 0..<chunks { run(chunk, 0..<0) }
                                }
                            }
                        }
                    }
                }
            }
            var total = partials[0]
            for partial in partials.dropFirst() {
                total.inertia += partial.inertia
                total.changed = total.changed || partial.changed
                for cluster in 0..<k { total.weights[cluster] += partial.weights[cluster] }
                for slot in 0..<(k * d) { total.sums[slot] += partial.sums[slot] }
            }
            inertia = total.inertia
            let empty = (0..<k).filter { total.weights[$0] == 0 }
            guard total.changed || !empty.isEmpty else { break }
            for cluster in 0..<k where total.weights[cluster] > 0 {
                for component in 0..<d {
                    centroids[cluster * d + component] = total.sums[cluster * d + component] / total.weights[cluster]
                }
            }
            relocate(empty, to: points, labels: labels, centroids: &centroids)
        }
        return inertia
    }

    /// Moves the centroids of empty clusters onto the points that cost most where they are,
    /// as scikit-learn does, so that no LUT entry is wasted.
    private static func relocate(_ empty: [Int], to points: DistinctVectors, labels: [Int32], centroids: inout [Double]) {
        guard !empty.isEmpty else { return }
        let d = points.dimension
        let costs = centroids.withUnsafeBufferPointer { c in
            points.values.withUnsafeBufferPointer { x in
                (0..<points.count).map { index in
                    points.weights[index] * distance(x.baseAddress! + index * d, c.baseAddress! + Int(labels[index]) * d, d)
                }
            }
        }
        let farthest = costs.indices.sorted { costs[$0] > costs[$1] || (costs[$0] == costs[$1] && $0 < $1) }
        for (cluster, point) in zip(empty, farthest) {
            for component in 0..<d { centroids[cluster * d + component] = Double(points.values[point * d + component]) }
        }
    }
}
