import Testing
@testable import Execution

@Suite struct NormalizationKernelsTests {
    @Test func batchNormalizationUsesTheRunningStatisticsPerChannel() throws {
        let y = try GraphBuilding.run(.batchNormalization(epsilon: 0), [floats([1, 2, 2], [1, 3, 10, 20]), floats([2], [2, 1]),
                                                                       floats([2], [0, 5]), floats([2], [1, 10]), floats([2], [4, 25])])
        // c0: 2·(x − 1)/2 + 0; c1: (x − 10)/5 + 5.
        #expect(y.floats! == [0, 2, 5, 7])
    }

    @Test func layerNormalizationNormalizesTheLastAxesWithScaleAndBias() throws {
        // Row [1 2 3 4]: mean 2.5, variance 1.25; a constant row is all zeros before the bias.
        let y = try GraphBuilding.run(.layerNormalization(axes: [-1], epsilon: 1e-6), [floats([2, 4], [1, 2, 3, 4, 2, 2, 2, 2]),
                                                                                   floats([4], [1, 1, 2, 2]), floats([4], [0, 0, 0, 1])])
        let s = 1 / Float(1.25 + 1e-6).squareRoot()
        #expect(close(Array(y.floats![0..<4]), [-1.5 * s, -0.5 * s, 2 * 0.5 * s, 2 * 1.5 * s + 1]))
        #expect(Array(y.floats![4...]) == [0, 0, 0, 1])
    }

    @Test func layerNormalizationOverAMiddleAxisBroadcastsOverTheAxesAfterIt() throws {
        // x [1, 2, 2]: normalize axis 1 per last index: columns [0, 2] and [1, 3] → ±1.
        let y = try GraphBuilding.run(.layerNormalization(axes: [1], epsilon: 0), [iota([1, 2, 2]), floats([2], [1, 3]), nil])
        #expect(y.floats! == [-1, -1, 3, 3])
    }

    @Test func instanceAndGroupNormalizationUseTheirOwnStatistics() throws {
        let x = floats([1, 2, 2], [0, 2, 10, 30])
        let instance = try GraphBuilding.run(.instanceNormalization(epsilon: 0), [x, floats([2], [1, 2]), floats([2], [0, 1])])
        #expect(instance.floats! == [-1, 1, -1, 3])
        // One group over all four: mean 10.5, variance (10.5² + 8.5² + 0.5² + 19.5²)/4 = 140.75.
        let group = try GraphBuilding.run(.groupNormalization(groups: 1, epsilon: 0), [x, nil, nil])
        let sd = Float(140.75).squareRoot()
        #expect(close(group.floats!, [-10.5 / sd, -8.5 / sd, -0.5 / sd, 19.5 / sd]))
    }
}
