import Testing
@testable import QuantCore

/// Weighted squared error of `values` (with `counts`) when each takes its nearest centroid.
private func error(_ values: [Float], _ counts: [Double], _ centroids: [Double]) -> Double {
    zip(values, counts).reduce(0) { total, point in
        let nearest = centroids.map { (Double(point.0) - $0) * (Double(point.0) - $0) }.min()!
        return total + point.1 * nearest
    }
}

/// The least error over every assignment of points to `k` labels (contiguous or not).
private func bruteForceOptimum(_ values: [Float], _ counts: [Double], k: Int) -> Double {
    var best = Double.infinity
    var labels = [Int](repeating: 0, count: values.count)
    while true {
        var total = 0.0
        for cluster in 0..<k {
            let members = labels.indices.filter { labels[$0] == cluster }
            let weight = members.reduce(0.0) { $0 + counts[$1] }
            guard weight > 0 else { continue }
            let mean = members.reduce(0.0) { $0 + counts[$1] * Double(values[$1]) } / weight
            total += members.reduce(0.0) { $0 + counts[$1] * (Double(values[$1]) - mean) * (Double(values[$1]) - mean) }
        }
        best = min(best, total)
        var position = 0
        while position < labels.count && labels[position] == k - 1 { labels[position] = 0; position += 1 }
        if position == labels.count { return best }
        labels[position] += 1
    }
}

/// The least error of `k` runs of sorted weighted points, by the plain O(k·n²) programme over every row.
private func everyRowOptimum(_ points: DistinctValues, k: Int) -> Double {
    let n = points.count
    var w = [0.0], s = [0.0], q = [0.0]
    for (value, weight) in zip(points.values, points.weights) {
        w.append(w.last! + weight)
        s.append(s.last! + weight * Double(value))
        q.append(q.last! + weight * Double(value) * Double(value))
    }
    func cost(_ a: Int, _ b: Int) -> Double { (q[b] - q[a]) - (s[b] - s[a]) * (s[b] - s[a]) / (w[b] - w[a]) }
    var layer = (0...n).map { $0 == 0 ? 0 : cost(0, $0) }
    for _ in 1..<k {
        layer = (0...n).map { t in t == 0 ? 0 : (0..<t).map { layer[$0] + cost($0, t) }.min()! }
    }
    return layer[n]
}

private func distinct(_ values: [Float]) -> DistinctValues {
    values.withUnsafeBufferPointer { DistinctValues(floats: $0.baseAddress!, ranges: [0..<values.count]) }
}

@Suite struct OptimalScalarClusteringTests {
    @Test func matchesBruteForceOnEveryPartitionOfTinyInputs() {
        var random = SplitMix64(seed: 11)
        for trial in 0..<40 {
            let n = 2 + trial % 6
            var raw = (0..<n).map { _ in Float(random.normal()).rounded(toPlaces: 2) }
            raw += raw.prefix(trial % 3)  // repeated values become weights
            let points = distinct(raw)
            for k in 1...min(4, points.count) {
                let centroids = OptimalScalarClustering.centroids(of: points, clusterCount: k, parallel: false)
                #expect(centroids.count == k)
                #expect(centroids == centroids.sorted())
                let found = error(points.values, points.weights, centroids)
                let optimum = bruteForceOptimum(points.values, points.weights, k: k)
                #expect(abs(found - optimum) <= 1e-9 * max(1, optimum), "trial \(trial) k \(k): \(found) vs \(optimum)")
            }
        }
    }

    @Test func boundaryWindowsKeepTheOptimumOnSkewedWeightedPoints() {
        var random = SplitMix64(seed: 3)
        // Enough points for the windows to narrow (over 2k bins of 16): a dense core, a long
        // one-sided tail and a few heavy repeats.
        var raw = (0..<900).map { _ in Float(random.normal()).rounded(toPlaces: 3) }
        raw += (0..<200).map { _ in Float(abs(random.normal()) * 8).rounded(toPlaces: 2) }
        raw += [Float](repeating: 0.5, count: 300) + [Float](repeating: -1.25, count: 120)
        let points = distinct(raw)
        for k in [3, 8, 16] {
            let centroids = OptimalScalarClustering.centroids(of: points, clusterCount: k, parallel: false)
            let found = error(points.values, points.weights, centroids)
            let optimum = everyRowOptimum(points, k: k)
            #expect(abs(found - optimum) <= 1e-9 * optimum, "k \(k): \(found) vs \(optimum)")
        }
    }

    @Test func weightsCountAsRepeatedPoints() {
        // Nine points at 0 and one at 10 with two clusters: {0}, {10}. With the weight on 10
        // instead, the same split; with three values, the heavy pair stays together.
        let points = distinct([0, 0, 0, 0, 0, 0, 0, 0, 0, 10])
        #expect(points.weights == [9, 1])
        #expect(OptimalScalarClustering.centroids(of: points, clusterCount: 2, parallel: false) == [0, 10])
        let three = distinct([0, 1, 1, 1, 1, 100])
        #expect(OptimalScalarClustering.centroids(of: three, clusterCount: 2, parallel: false) == [0.8, 100])
    }

    @Test func fewerDistinctValuesThanClustersGivesTheValues() {
        let points = distinct([3, -1, 3, 2])
        #expect(OptimalScalarClustering.centroids(of: points, clusterCount: 16, parallel: false) == [-1, 2, 3])
    }

    @Test func parallelAndSerialAgree() {
        var random = SplitMix64(seed: 5)
        let points = distinct((0..<20000).map { _ in Float(random.normal()) })
        let serial = OptimalScalarClustering.centroids(of: points, clusterCount: 16, parallel: false)
        let parallel = OptimalScalarClustering.centroids(of: points, clusterCount: 16, parallel: true)
        #expect(serial == parallel)
    }

    @Test func binnedCandidatesStillReachALloydFixpointNoWorseThanTheBins() {
        var random = SplitMix64(seed: 8)
        let points = distinct((0..<400).map { _ in Float(random.normal()) })
        let exact = OptimalScalarClustering.centroids(of: points, clusterCount: 4, parallel: false)
        let binned = OptimalScalarClustering.centroids(of: points, clusterCount: 4, parallel: false, maximumCandidates: 10)
        let exactError = error(points.values, points.weights, exact)
        let binnedError = error(points.values, points.weights, binned)
        #expect(binnedError >= exactError - 1e-12)
        // A Lloyd fixpoint: each centroid is the mean of the points nearest to it.
        for (cluster, centroid) in binned.enumerated() {
            let members = points.values.indices.filter { index in
                let distances = binned.map { abs(Double(points.values[index]) - $0) }
                return distances.firstIndex(of: distances.min()!) == cluster
            }
            let mean = members.reduce(0.0) { $0 + Double(points.values[$1]) } / Double(members.count)
            #expect(abs(mean - centroid) < 1e-12)
        }
        // Far more candidates than bins: within a hair of the optimum.
        #expect(binnedError <= exactError * 1.05)
    }
}

private extension Float {
    func rounded(toPlaces places: Int) -> Float {
        var scale: Float = 1
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
