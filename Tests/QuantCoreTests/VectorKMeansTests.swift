import Testing
@testable import QuantCore

private func points(_ vectors: [Float], dimension: Int) -> DistinctVectors {
    vectors.withUnsafeBufferPointer { DistinctVectors($0, dimension: dimension) }
}

@Suite struct VectorKMeansTests {
    @Test func findsWellSeparatedClusters() {
        var random = SplitMix64(seed: 21)
        let centres: [[Float]] = [[0, 0], [10, 0], [0, 10], [10, 10]]
        var vectors: [Float] = []
        for _ in 0..<50 {
            for centre in centres {
                vectors += [centre[0] + Float(random.normal() * 0.1), centre[1] + Float(random.normal() * 0.1)]
            }
        }
        let centroids = VectorKMeans.centroids(of: points(vectors, dimension: 2), clusterCount: 4, parallel: false)
        let found = stride(from: 0, to: 8, by: 2).map { [centroids[$0].rounded(), centroids[$0 + 1].rounded()] }
        #expect(Set(found) == Set(centres.map { $0.map(Double.init) }))
    }

    @Test func fewerDistinctVectorsThanClustersGivesTheVectors() {
        let centroids = VectorKMeans.centroids(of: points([1, 2, 3, 4, 1, 2], dimension: 2), clusterCount: 4, parallel: false)
        #expect(centroids == [1, 2, 3, 4])
    }

    @Test func deterministicAndIndependentOfParallelism() {
        var random = SplitMix64(seed: 4)
        // More points than one chunk, so that several chunks' sums are combined.
        let vectors = (0..<(2 * (VectorKMeans.chunkSize + 5000))).map { _ in Float(random.normal()) }
        let distinct = points(vectors, dimension: 2)
        let first = VectorKMeans.centroids(of: distinct, clusterCount: 4, parallel: true, seeds: 2)
        #expect(VectorKMeans.centroids(of: distinct, clusterCount: 4, parallel: true, seeds: 2) == first)
        #expect(VectorKMeans.centroids(of: distinct, clusterCount: 4, parallel: false, seeds: 2) == first)
    }
}
