import Testing
@testable import QuantCore

@Suite struct BlockSparsityTests {
    private func norms(_ weights: [Float], shape: [Int], dim: Int, blockSize: Int, _ arithmetic: DTypeArithmetic) -> [Float]? {
        let blocks = BlockSparsity(layout: ChannelLayout(shape: shape, dim: dim), blockSize: blockSize, arithmetic: arithmetic)
        return weights.withUnsafeBufferPointer { blocks.blockNorms(FloatBufferSource(base: $0.baseAddress!)) }
    }

    @Test func normsOfTheDocstringExample() throws {
        let result = try #require(norms([1, 3, -6, -7, 0, 3, -9, 2], shape: [4, 2], dim: 0, blockSize: 2, .float32))
        // Layout [group, column]: column 0 holds (1, −6) and (0, −9), column 1 (3, −7) and (3, 2).
        #expect(result == [Float(37).squareRoot(), Float(58).squareRoot(), 9, Float(13).squareRoot()])
    }

    // One float16 block, squares 1, 0.000596…, 0.000645…; numpy 2.2 gives the norms below.
    private let block: [Float] = [1, 0.0244140625, 0.025390625]

    @Test func float16SumRoundsEveryStepWhenChannelsAreNotInnermost() throws {
        // Along dim 0 with a column after it: out = out + square, rounded each time.
        let weights = block.flatMap { [$0, Float(0)] }
        let result = try #require(norms(weights, shape: [3, 2], dim: 0, blockSize: 3, .float16))
        #expect(result[0] == 1.0009765625)
    }

    @Test func float16SumIsPairwiseInFloatWhenChannelsAreInnermost() throws {
        // Along dim 1 of a linear weight numpy sums in float and rounds once.
        let result = try #require(norms(block, shape: [1, 3], dim: 1, blockSize: 3, .float16))
        #expect(result[0] == 1)
    }

    @Test func pairwiseSumFollowsNumpysUnrolling() {
        // 1 + eight 2^-24 terms: the eight partial sums meet 1 in different orders.
        let terms: [Float] = [1] + [Float](repeating: 0x1p-24, count: 8)
        let sum = terms.withUnsafeBufferPointer { BlockSparsity.pairwiseSum($0) }
        #expect(sum == 1 + 0x1p-21)
        let short: [Float] = [1, 0x1p-24, 0x1p-24]
        #expect(short.withUnsafeBufferPointer { BlockSparsity.pairwiseSum($0) } == 1)
    }

    @Test func refusesNonFiniteWeights() {
        #expect(norms([1, .nan, 3, 4], shape: [4, 1], dim: 0, blockSize: 2, .float32) == nil)
    }
}
