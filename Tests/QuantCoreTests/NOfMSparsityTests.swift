import Testing
@testable import QuantCore

@Suite struct NOfMSparsityTests {
    private func flags(_ weights: [Float], shape: [Int], n: Int, m: Int, dim: Int) throws -> [Bool] {
        let sparsity = NOfMSparsity(layout: ChannelLayout(shape: shape, dim: dim), n: n, m: m)
        return try weights.withUnsafeBufferPointer { try sparsity.keepFlags(FloatBufferSource(base: $0.baseAddress!)).get() }
    }

    @Test func runsFollowTheChosenAxis() throws {
        let weights: [Float] = [4, 1, 3, 2,
                                1, 4, 2, 3]
        #expect(try flags(weights, shape: [2, 4], n: 1, m: 2, dim: 1) == [true, false, true, false, false, true, false, true])
        // Along dim 0 the runs are the two rows of each column.
        let columns: [Float] = [4, 1, 3, 2, 1, 4, 2, 3, 5, 5, 5, 5, 6, 6, 6, 6]
        #expect(try flags(columns, shape: [4, 4], n: 1, m: 2, dim: 0)
                == [true, false, true, false, false, true, false, true, false, false, false, false, true, true, true, true])
    }

    @Test func nEqualToMDropsEverything() throws {
        #expect(try flags([1, 2, 3, 4], shape: [1, 4], n: 2, m: 2, dim: 1) == [false, false, false, false])
    }

    @Test func refusesNaN() {
        #expect(throws: QuantCoreError.nonFiniteMagnitude) { try flags([1, .nan, 3, 4], shape: [1, 4], n: 1, m: 2, dim: 1) }
    }
}
