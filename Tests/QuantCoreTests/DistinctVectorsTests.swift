import Testing
@testable import QuantCore

@Suite struct DistinctVectorsTests {
    @Test func lexicographicOrderWithCounts() {
        let vectors: [Float] = [1, 2, 0, 5, 1, 2, 1, -3, -0.0, 5]
        let distinct = vectors.withUnsafeBufferPointer { DistinctVectors($0, dimension: 2) }
        #expect(distinct.values == [0, 5, 1, -3, 1, 2])
        #expect(distinct.weights == [2, 1, 2])
        #expect(distinct.values[0].sign == .plus)
    }
}
