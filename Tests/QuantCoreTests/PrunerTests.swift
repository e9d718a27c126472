import Testing
@testable import QuantCore

/// Prunes Float32 weights, with the size threshold off so that small tables qualify.
private func prune(_ weights: [Float], shape: [Int], _ config: PruningConfig) throws -> Pruner.Outcome {
    try weights.withUnsafeBytes { try Pruner(config).outcome($0, type: .float32, shape: shape) }
}

/// The dense result of pruning: kept weights, zero elsewhere.
private func pruned(_ weights: [Float], shape: [Int], _ config: PruningConfig) throws -> [Float]? {
    try prune(weights, shape: shape, config).tensor?.dequantized()
}

private func magnitude(
    _ target: Double? = nil, block: Int? = nil, nm: (Int, Int)? = nil, dim: Int? = nil
) throws -> PruningConfig {
    try .magnitude(targetSparsity: target, blockSize: block, nmRatio: nm.map { (n: $0.0, m: $0.1) },
                   dim: dim, weightThreshold: 0)
}

// Expected tensors below were produced by coremltools 9's `prune_weights` functions.
private let row8: [Float] = [0.5, -0.1, 0.3, -0.7, 0.2, 0.9, -0.4, 0.05,
                             1, -2, 3, -4, 5, -6, 7, -8]

@Suite struct PrunerTests {
    @Test func thresholdDropsMagnitudesAtOrBelowIt() throws {
        let config = try PruningConfig.threshold(threshold: 0.3, minimumSparsityPercentile: 0, weightThreshold: 0)
        #expect(try pruned(row8, shape: [2, 8], config) == [0.5, 0, 0, -0.7, 0, 0.9, -0.4, 0,
                                                             1, -2, 3, -4, 5, -6, 7, -8])
    }

    @Test func thresholdIsRoundedToFloat16First() throws {
        // float16(0.01) = 0.0100021…, so the float16 weight 0.01 equals the threshold and goes.
        let bits: [UInt16] = [0.01, 0.02, 0, -0.01].map { FloatConversion.float16Bits($0) }
        let config = try PruningConfig.threshold(threshold: 0.01, minimumSparsityPercentile: 0, weightThreshold: 0)
        let tensor = try bits.withUnsafeBytes { try Pruner(config).prune($0, type: .float16, shape: [1, 4]) }
        #expect(tensor?.mask == [0b0010])
    }

    @Test func thresholdBelowMinimumSparsityIsSkipped() throws {
        let config = try PruningConfig.threshold(threshold: 0.15, minimumSparsityPercentile: 0.5, weightThreshold: 0)
        #expect(try prune(row8, shape: [2, 8], config) == .skipped(.belowMinimumSparsity(sparsity: 0.125, minimum: 0.5)))
    }

    @Test(arguments: [
        // np.percentile(|w|, 30) = 0.45, so everything up to 0.4 goes.
        (0.3, [Float](arrayLiteral: 0.5, 0, 0, -0.7, 0, 0.9, 0, 0, 1, -2, 3, -4, 5, -6, 7, -8)),
        // The median 0.95 lies between 0.9 and 1: exactly the first row goes.
        (0.5, [0, 0, 0, 0, 0, 0, 0, 0, 1, -2, 3, -4, 5, -6, 7, -8]),
        (0.0, row8),
        (1.0, [Float](repeating: 0, count: 16)),
    ])
    func magnitudeCutsAtThePercentile(target: Double, expected: [Float]) throws {
        #expect(try pruned(row8, shape: [2, 8], magnitude(target)) == expected)
    }

    @Test func magnitudeTiesAtTheCutAllGo() throws {
        // The median of |w| is 2 and three weights have magnitude 2, so 6 of 8 go, not 4.
        let ties: [Float] = [1, -1, 2, -2, 2, 3, -3, 1]
        #expect(try pruned(ties, shape: [2, 4], magnitude(0.5)) == [0, 0, 0, 0, 0, 3, -3, 0])
        #expect(try pruned(ties, shape: [2, 4], magnitude(0.25)) == [0, 0, 2, -2, 2, 3, -3, 0])
    }

    @Test func blockOfTwoAlongDimZero() throws {
        // coremltools' docstring example: block norms 6.08, 9.00, 7.62, 3.61; the two smallest go.
        let weights: [Float] = [1, 3, -6, -7, 0, 3, -9, 2]
        #expect(try pruned(weights, shape: [4, 2], magnitude(0.5, block: 2)) == [0, 3, 0, -7, 0, 0, -9, 0])
    }

    @Test(arguments: [2, 4])
    func blocksAlongDimOne(blockSize: Int) throws {
        // Every block of the first row is smaller than any of the second.
        let expected: [Float] = [0, 0, 0, 0, 0, 0, 0, 0, 1, -2, 3, -4, 5, -6, 7, -8]
        #expect(try pruned(row8, shape: [2, 8], magnitude(0.5, block: blockSize, dim: 1)) == expected)
    }

    @Test func blockSizeAboveHalfTheChannelsIsSkipped() throws {
        #expect(try prune(row8, shape: [2, 8], magnitude(0.5, block: 2)) == .skipped(.blockTooLarge(blockSize: 2, channels: 2)))
    }

    @Test func twoOfFourAlongTheInputAxis() throws {
        #expect(try pruned(row8, shape: [2, 8], magnitude(nm: (2, 4))) == [0.5, 0, 0, -0.7, 0, 0.9, -0.4, 0,
                                                                           0, 0, 3, -4, 0, 0, 7, -8])
    }

    @Test func oneOfFourAlongTheInputAxis() throws {
        #expect(try pruned(row8, shape: [2, 8], magnitude(nm: (1, 4))) == [0.5, 0, 0.3, -0.7, 0.2, 0.9, -0.4, 0,
                                                                           0, -2, 3, -4, 0, -6, 7, -8])
    }

    @Test func oneOfTwoOnBothAxes() throws {
        // coremltools' docstring example.
        let weights: [Float] = [3, 4, 7, 6, 1, 8, -3, -8, -2, -3, -4, 0, 5, 4, -3, -2]
        #expect(try pruned(weights, shape: [4, 4], magnitude(nm: (1, 2))) == [0, 4, 7, 0, 0, 8, 0, -8,
                                                                               0, -3, -4, 0, 5, 0, -3, 0])
        #expect(try pruned(weights, shape: [4, 4], magnitude(nm: (1, 2), dim: 0)) == [3, 0, 7, 0, 0, 8, 0, -8,
                                                                                       0, 0, -4, 0, 5, 4, 0, -2])
    }

    @Test func nOfMPaddingCountsAmongTheSmallest() throws {
        // 7 channels in runs of 3: the last run holds one weight and two padding zeros.
        let weights: [Float] = [0.1, 0.5, 0.2, 0.9, 0.3, 0.4, 0.8]
        #expect(try pruned(weights, shape: [1, 7], magnitude(nm: (2, 3))) == [0, 0.5, 0, 0.9, 0, 0, 0.8])
        #expect(try pruned(weights, shape: [1, 7], magnitude(nm: (1, 3))) == [0, 0.5, 0.2, 0.9, 0, 0.4, 0.8])
    }

    @Test func nOfMTiesGoInIndexOrder() throws {
        // |w| ties within each run of 4: the earlier ones are the smallest, as numpy's
        // insertion sort has them for float16 runs.
        let weights: [Float] = [1, -1, 1, -1, 2, 2, -2, 2]
        #expect(try pruned(weights, shape: [1, 8], magnitude(nm: (2, 4))) == [0, 0, 1, -1, 0, 0, -2, 2])
    }

    @Test func nOfMOnRankFourAlongInputAxis() throws {
        // [C_out 1, C_in 8, 1, 2]: runs of 4 input channels at each kernel position.
        var weights = [Float](repeating: 0, count: 16)
        for channel in 0..<8 {
            weights[channel * 2] = Float(channel + 1)
            weights[channel * 2 + 1] = Float(8 - channel)
        }
        let kept = try #require(try prune(weights, shape: [1, 8, 1, 2], magnitude(nm: (2, 4))).tensor)
        let expected = (0..<16).map { index in
            let channel = index / 2
            let position = channel % 4
            return index % 2 == 0 ? position >= 2 : position < 2
        }
        #expect((0..<16).map(kept.isKept) == expected)
    }

    @Test func allZeroTensorKeepsNothing() throws {
        let zeros = [Float](repeating: 0, count: 16)
        for config in [try magnitude(0.5), try magnitude(nm: (2, 4)), try magnitude(0.5, block: 2, dim: 1),
                       try .threshold(weightThreshold: 0)] {
            let tensor = try #require(try prune(zeros, shape: [2, 8], config).tensor)
            #expect(tensor.nonZeroCount == 0 && tensor.values.isEmpty && tensor.sparsity == 1)
        }
    }

    @Test func zerosAreNeverKept() throws {
        var weights = row8
        weights[5] = -0.0
        weights[9] = 0
        let tensor = try #require(try prune(weights, shape: [2, 8], magnitude(0)).tensor)
        #expect(tensor.nonZeroCount == 14)
        #expect(!tensor.isKept(5) && !tensor.isKept(9))
    }

    @Test func keptValuesAreTheOriginalBytes() throws {
        let bits: [UInt16] = (0..<64).map { FloatConversion.float16Bits(Float($0 % 7) - 3.3) }
        let tensor = try #require(try bits.withUnsafeBytes {
            try Pruner(magnitude(0.5)).prune($0, type: .float16, shape: [8, 8])
        })
        let kept = (0..<64).filter(tensor.isKept).map { bits[$0] }
        #expect(tensor.values == kept.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
    }

    @Test func smallAndRankOneTensorsAreSkipped() throws {
        let config = try PruningConfig.magnitude(targetSparsity: 0.5)
        #expect(try prune(row8, shape: [2, 8], config) == .skipped(.notApplicable(shape: [2, 8], weightThreshold: 2048)))
        #expect(try prune(row8, shape: [16], magnitude(0.5)) == .skipped(.notApplicable(shape: [16], weightThreshold: 0)))
    }

    @Test func magnitudeModesRefuseNonFiniteWeights() throws {
        var weights = row8
        weights[3] = .infinity
        #expect(throws: QuantCoreError.nonFiniteMagnitude) { try prune(weights, shape: [2, 8], magnitude(0.5)) }
        #expect(throws: QuantCoreError.nonFiniteMagnitude) { try prune(weights, shape: [2, 8], magnitude(nm: (2, 4))) }
        #expect(throws: QuantCoreError.nonFiniteMagnitude) { try prune(weights, shape: [2, 8], magnitude(0.5, block: 2, dim: 1)) }
        let threshold = try PruningConfig.threshold(threshold: 0.3, minimumSparsityPercentile: 0, weightThreshold: 0)
        #expect(try prune(weights, shape: [2, 8], threshold).tensor?.isKept(3) == true)
    }

    @Test func refusesIntegerWeightsAndWrongSizes() throws {
        let config = try magnitude(0.5)
        let bytes = [UInt8](repeating: 1, count: 16)
        #expect(throws: QuantCoreError.notFloatingPoint(.int8)) {
            try bytes.withUnsafeBytes { try Pruner(config).prune($0, type: .int8, shape: [2, 8]) }
        }
        #expect(throws: QuantCoreError.sizeMismatch(expected: 64, actual: 16)) {
            try bytes.withUnsafeBytes { try Pruner(config).prune($0, type: .float32, shape: [2, 8]) }
        }
    }

    @Test func largeTensorsMatchASerialReference() throws {
        // Enough elements for several parallel chunks; the cut must equal a plain sort's.
        var generator = SplitMix64(seed: 7)
        let weights = (0..<300_000).map { _ in Float(generator.normal()) }
        let tensor = try #require(try prune(weights, shape: [600, 500], magnitude(0.7)).tensor)
        let sorted = weights.map(\.magnitude).sorted()
        let virtualIndex = Float(weights.count - 1) * Float(70.0) / 100
        let lower = Int(virtualIndex.rounded(.down))
        let gamma = virtualIndex - Float(lower)
        let difference = sorted[lower + 1] - sorted[lower]
        let cut = gamma >= 0.5 ? sorted[lower + 1] - difference * (1 - gamma) : sorted[lower] + difference * gamma
        #expect((0..<weights.count).allSatisfy { tensor.isKept($0) == (weights[$0].magnitude > cut) })
    }
}
