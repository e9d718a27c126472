import Testing
@testable import QuantCore

@Suite struct PrunedTensorTests {
    private let tensor = PrunedTensor(
        shape: [2, 5], type: .float32, mask: [0b1000_0101, 0b10], nonZeroCount: 4,
        values: [Float](arrayLiteral: 1.5, -2, 3, 0.25).flatMap { value in
            withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        })

    @Test func maskBitsAreLeastSignificantFirst() {
        #expect((0..<10).filter(tensor.isKept) == [0, 2, 7, 9])
    }

    @Test func dequantizedPlacesKeptValuesAndZeros() {
        #expect(tensor.dequantized() == [1.5, 0, -2, 0, 0, 0, 0, 3, 0, 0.25])
    }

    @Test func denseBytesKeepTheEncoding() {
        let dense = tensor.denseBytes()
        let floats = (0..<10).map { index in
            dense.withUnsafeBytes { Float(bitPattern: $0.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)) }
        }
        #expect(floats == tensor.dequantized())
    }

    @Test func sparsityCountsDroppedElements() {
        #expect(tensor.count == 10)
        #expect(tensor.sparsity == 0.6)
    }

    @Test func roundTripRestoresKeptWeightsExactly() throws {
        var generator = SplitMix64(seed: 3)
        let weights = (0..<4096).map { _ in Float(generator.normal()) }
        let config = try PruningConfig.magnitude(targetSparsity: 0.6)
        let pruned = try #require(try weights.withUnsafeBytes {
            try Pruner(config).prune($0, type: .float32, shape: [64, 64])
        })
        let restored = pruned.dequantized()
        for index in weights.indices {
            #expect(restored[index] == (pruned.isKept(index) ? weights[index] : 0))
        }
        #expect(pruned.nonZeroCount == (0..<4096).filter(pruned.isKept).count)
    }
}
