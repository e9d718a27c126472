import Testing
@testable import QuantCore

private func palettize(_ values: [Float], shape: [Int], _ config: PalettizationConfig) throws -> PalettizedTensor {
    try values.withUnsafeBytes { try Palettizer(config).palettize($0, type: .float32, shape: shape) }
}

private func palettize(float16 values: [Float], shape: [Int], _ config: PalettizationConfig) throws -> PalettizedTensor {
    let bits = values.map(FloatConversion.float16Bits)
    return try bits.withUnsafeBytes { try Palettizer(config).palettize($0, type: .float16, shape: shape) }
}

private func squaredError(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
}

@Suite struct PalettizerTests {
    /// Float16 weights are read in place when they sit at an even address and copied when not;
    /// both give the same palette.
    @Test func float16AtAnOddAddressGivesTheSamePalette() throws {
        var generator = SplitMix64(seed: 12)
        let values = (0..<(64 * 48)).map { _ in Float(generator.normal()) * 0.1 }
        let bytes = values.map(FloatConversion.float16Bits).withUnsafeBytes { Array($0) }
        let config = PalettizationConfig(mode: .kmeans, nbits: 4)
        let aligned = try bytes.withUnsafeBytes { try Palettizer(config).palettize($0, type: .float16, shape: [64, 48]) }
        let shifted = [0] + bytes
        let odd = try shifted.withUnsafeBytes { raw in
            let slice = UnsafeRawBufferPointer(rebasing: raw[1...])
            #expect(Int(bitPattern: slice.baseAddress) % 2 == 1)
            return try Palettizer(config).palettize(slice, type: .float16, shape: [64, 48])
        }
        #expect(odd.lut == aligned.lut)
        #expect(odd.indices == aligned.indices)
    }

    @Test func uniqueModeIsExactAndPicksTheFewestBits() throws {
        let values: [Float] = [0.5, -1, 0.5, 2, 2, -1, 0.5, 7, 0.5, 2, -1, -1]
        let tensor = try palettize(values, shape: [3, 4], .init(mode: .unique))
        #expect(tensor.nbits == 2)
        #expect(tensor.lut == [-1, 0.5, 2, 7])
        #expect(tensor.indices == [1, 0, 1, 2, 2, 0, 1, 3, 1, 2, 0, 0])
        #expect(tensor.dequantized() == values)
        // Five values need 3 bits (coremltools tries 1, 2, 3, 4, 6, 8), padded with zeros.
        let five = try palettize(values.map { $0 == 7 ? 8 : $0 } + [], shape: [3, 4], .init(mode: .unique))
        #expect(five.nbits == 2)
        let more = try palettize([1, 2, 3, 4, 5, 1, 1, 1], shape: [2, 4], .init(mode: .unique))
        #expect(more.nbits == 3)
        #expect(more.lut == [1, 2, 3, 4, 5, 0, 0, 0])
    }

    @Test func uniqueModeTakesTheLargestGroupsBitsAndRefusesMoreThan256Values() throws {
        // Group 0 has 2 values, group 1 has 3: both get 2-bit LUTs.
        let tensor = try palettize([0, 1, 0, 1, 5, 6, 7, 5], shape: [4, 2],
                                   .init(mode: .unique, granularity: .perGroupedChannel, groupSize: 2))
        #expect(tensor.nbits == 2)
        #expect(tensor.lutShape == [2, 4, 1])
        #expect(tensor.lut == [0, 1, 0, 0, 5, 6, 7, 0])
        #expect(throws: QuantCoreError.tooManyUniqueValues(count: 300)) {
            try palettize((0..<300).map(Float.init), shape: [3, 100], .init(mode: .unique))
        }
    }

    @Test func uniformModeByHand() throws {
        let tensor = try palettize([-1, 2, 0.4, 1.6, 0, 0.5], shape: [2, 3], .init(mode: .uniform, nbits: 2))
        #expect(tensor.lut == [-1, 0, 1, 2])
        #expect(tensor.indices == [0, 3, 1, 3, 1, 2])
    }

    @Test func kmeansOnFewValuesIsExact() throws {
        let values: [Float] = [0.25, -0.5, 0.25, 3, -0.5, 0.25]
        for type in ["f32", "f16"] {
            let tensor = type == "f32" ? try palettize(values, shape: [2, 3], .init(nbits: 2))
                : try palettize(float16: values, shape: [2, 3], .init(nbits: 2))
            #expect(tensor.lut == [-0.5, 0.25, 3, 0])
            #expect(tensor.dequantized() == values)
            #expect(tensor.lutType == (type == "f32" ? .float32 : .float16))
        }
    }

    @Test func kmeansLutIsRoundedToTheWeightType() throws {
        var random = SplitMix64(seed: 9)
        let values = (0..<4096).map { _ in Float(random.normal() * 0.05) }
        let tensor = try palettize(float16: values, shape: [64, 64], .init(nbits: 4))
        #expect(tensor.lut.allSatisfy { FloatConversion.rounded($0, to: .float16) == $0 })
        #expect(tensor.lut == tensor.lut.sorted())
        // Every weight takes the nearest stored entry.
        let dense = tensor.dequantized()
        for (index, value) in values.enumerated() {
            let weight = FloatConversion.rounded(value, to: .float16)
            let nearest = tensor.lut.map { abs($0 - weight) }.min()!
            #expect(abs(dense[index] - weight) == nearest)
        }
    }

    @Test func groupedChannelsGetTheirOwnLut() throws {
        // Axis 1 groups of 2 channels: columns 0–1 hold {1, 2}, columns 2–3 hold {10, 20}.
        let values: [Float] = [1, 2, 10, 20,
                               2, 1, 20, 10,
                               1, 1, 10, 10]
        let config = PalettizationConfig(nbits: 1, granularity: .perGroupedChannel, groupSize: 2, channelAxis: 1)
        let tensor = try palettize(values, shape: [3, 4], config)
        #expect(tensor.channelAxis == 1)
        #expect(tensor.lutShape == [2, 2, 1])
        #expect(tensor.lut == [1, 2, 10, 20])
        #expect(tensor.indices == [0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0])
        #expect(tensor.dequantized() == values)
    }

    @Test func perChannelScaleIsTheMaximumOverTheChannelAxis() throws {
        // coremltools 9 reduces over channel_axis (0): one scale per column here.
        let values: [Float] = [2, -4, 0, 0.5,
                               1, 0.5, 0, -1,
                               -0.5, 1, 0, 0.25]
        let tensor = try palettize(values, shape: [3, 4], .init(mode: .unique, enablePerChannelScale: true))
        #expect(tensor.perChannelScale == [2, 4, 1, 1])
        #expect(tensor.perChannelScaleShape == [1, 4])
        // Normalized: [1, −1, 0, 0.5], [0.5, 0.125, 0, −1], [−0.25, 0.25, 0, 0.25].
        #expect(tensor.lut == [-1, -0.25, 0, 0.125, 0.25, 0.5, 1, 0])
        #expect(tensor.dequantized() == values)
        // On a conv weight [C_out, C_in, k] the scale has shape [1, C_in, k].
        var random = SplitMix64(seed: 1)
        let conv = (0..<(4 * 3 * 2)).map { _ in Float(random.normal()) }
        let scaled = try palettize(conv, shape: [4, 3, 2], .init(nbits: 2, enablePerChannelScale: true))
        #expect(scaled.perChannelScaleShape == [1, 3, 2])
        let expected = (0..<6).map { position in (0..<4).map { abs(conv[$0 * 6 + position]) }.max()! }
        #expect(scaled.perChannelScale == expected)
    }

    @Test func vectorPalettizationShapes() throws {
        var random = SplitMix64(seed: 2)
        let values = (0..<(8 * 6)).map { _ in Float(random.normal()) }
        let tensor = try palettize(values, shape: [8, 6], .init(nbits: 2, granularity: .perGroupedChannel, groupSize: 4, clusterDim: 2))
        #expect(tensor.indexShape == [4, 6])
        #expect(tensor.indices.count == 24)
        #expect(tensor.lutShape == [2, 4, 2])
        #expect(tensor.lut.count == 16)
        #expect(tensor.indices.allSatisfy { $0 < 4 })
        // Unique vectors reconstruct exactly, along axis 1 as well.
        let pairs: [Float] = [1, 2, 1, 2, 3, 4, 3, 4]
        let unique = try palettize(pairs, shape: [2, 4], .init(mode: .unique, granularity: .perGroupedChannel, groupSize: 0,
                                                                channelAxis: 1, clusterDim: 2))
        #expect(unique.indexShape == [2, 2])
        #expect(unique.nbits == 1)
        #expect(unique.lut == [1, 2, 3, 4])
        #expect(unique.dequantized() == pairs)
    }

    @Test func vectorKMeansIsNoWorseThanScalarPairsOfTheSameBudget() throws {
        var random = SplitMix64(seed: 12)
        let values = (0..<(64 * 64)).map { _ in Float(random.normal()) }
        let vector = try palettize(values, shape: [64, 64], .init(nbits: 4, clusterDim: 2))
        let error = squaredError(vector.dequantized(), values)
        // 16 two-dimensional entries beat 4 scalar levels (the same 2 bits per weight).
        let scalar = try palettize(values, shape: [64, 64], .init(nbits: 2))
        #expect(error < squaredError(scalar.dequantized(), values))
    }

    @Test func refusesBadInput() {
        #expect(throws: QuantCoreError.missingPaletteBitWidth(mode: "kmeans")) {
            try palettize([1, 2], shape: [1, 2], .init())
        }
        #expect(throws: QuantCoreError.nonFiniteWeight) {
            try palettize([1, .nan, 3, 4], shape: [2, 2], .init(nbits: 1))
        }
        #expect(throws: QuantCoreError.nonFiniteWeight) {
            try palettize(float16: [1, .infinity, 3, 4], shape: [2, 2], .init(nbits: 1))
        }
        #expect(throws: QuantCoreError.sizeMismatch(expected: 16, actual: 12)) {
            try palettize([1, 2, 3], shape: [2, 2], .init(nbits: 1))
        }
        #expect(throws: QuantCoreError.notFloatingPoint(.int8)) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes {
                try Palettizer(.init(nbits: 1)).palettize($0, type: .int8, shape: [2, 2])
            }
        }
        #expect(throws: QuantCoreError.groupSizeDoesNotDivide(axis: 0, dimension: 3, groupSize: 2)) {
            try palettize([Float](repeating: 1, count: 6), shape: [3, 2], .init(nbits: 1, granularity: .perGroupedChannel, groupSize: 2))
        }
    }

    @Test func deterministicAcrossRuns() throws {
        var random = SplitMix64(seed: 30)
        let values = (0..<(128 * 96)).map { _ in Float(random.normal()) }
        for config in [PalettizationConfig(nbits: 3), .init(nbits: 4, granularity: .perGroupedChannel, groupSize: 16),
                       .init(nbits: 2, clusterDim: 4)] {
            let first = try palettize(values, shape: [128, 96], config)
            let second = try palettize(values, shape: [128, 96], config)
            #expect(first == second)
        }
    }

    @Test func bfloat16AndFloat64Weights() throws {
        let values: [Float] = [0.5, -1, 0.5, 2]
        let bits = values.map(FloatConversion.bfloat16Bits)
        let bf16 = try bits.withUnsafeBytes { try Palettizer(.init(nbits: 2)).palettize($0, type: .bfloat16, shape: [2, 2]) }
        #expect(bf16.lutType == .bfloat16)
        #expect(bf16.dequantized() == values)
        let doubles = values.map(Double.init)
        let f64 = try doubles.withUnsafeBytes { try Palettizer(.init(nbits: 2)).palettize($0, type: .float64, shape: [2, 2]) }
        #expect(f64.lutType == .float32)
        #expect(f64.dequantized() == values)
    }
}
