import QuantCore
import Testing
@testable import ModelFormats

/// Sparse initializers were loaded once in onnxruntime 1.23.2 and densified to `dequantized()`.
@Suite struct ONNXDequantizationPrunedTests {
    static let values: [Float] = [0.1, -3, 0.2, 4, -0.3, 5, 0.4, -6, 0.5, 7, -0.6, 8]

    static func pruned(type: ScalarType = .float32) throws -> PrunedTensor {
        try #require(try ONNXFloatEncoding.bytes(values, as: type).withUnsafeBytes {
            try Pruner(PruningConfig.magnitude(targetSparsity: 0.5, weightThreshold: 0)).prune($0, type: type, shape: [3, 4])
        })
    }

    @Test func aPrunedWeightIsASparseInitializerWithItsName() throws {
        let p = try Self.pruned()
        let dq = ONNXDequantization.pruned(p, weight: "W")
        let sparse = try #require(dq.sparseInitializers.first)
        #expect(dq.nodes.isEmpty && dq.initializers.isEmpty)
        #expect(sparse.values.name == "W" && sparse.values.bytes == p.values && sparse.dims == [3, 4])
        #expect(sparse.indices.dataType == .int8 && sparse.indices.bytes == [1, 3, 5, 7, 9, 11])
    }

    @Test func prunedLinearStoresCodesLessTheirZeroPoint() throws {
        let p = try Self.pruned()
        let q = try LinearQuantizer(.init(mode: .linear, dtype: .uint8, granularity: .perChannel, weightThreshold: 0)).quantize(p)
        let dq = try ONNXDequantization.prunedLinear(q, weight: "W")
        let sparse = try #require(dq.sparseInitializers.first)
        #expect(sparse.values.name == "W_quantized" && [.int8, .int16].contains(sparse.values.dataType))
        #expect(dq.nodes.first?.inputs == ["W_quantized", "W_scale"])
        let zeroPoints = try #require(q.zeroPoints)
        let first = Int(q.codes[0]) - Int(zeroPoints[0])
        #expect(sparse.values.dataType == .int8 ? Int(Int8(bitPattern: sparse.values.bytes[0])) == first
                                                 : Int(Int16(sparse.values.bytes[0]) | Int16(sparse.values.bytes[1]) << 8) == first)
    }

    @Test func prunedPalettizedIndicesCountFromOneAfterAZeroEntry() throws {
        let p = try Self.pruned()
        var config = PalettizationConfig(mode: .kmeans, nbits: 2, granularity: .perTensor, weightThreshold: 0)
        config.channelAxis = 0
        let palette = try p.denseBytes().withUnsafeBytes { try Palettizer(config).palettize($0, type: .float32, shape: [3, 4]) }
        let dq = try ONNXDequantization.prunedPalettized(p, palette, weight: "W")
        let sparse = try #require(dq.sparseInitializers.first)
        #expect(sparse.values.dataType == .uint8 && sparse.values.bytes == [1, 3, 5, 7, 9, 11].map { palette.indices[$0] + 1 })
        #expect(dq.initializers.first { $0.name == "W_lut" }?.dims == [5])
        #expect(dq.nodes.map(\.opType) == ["Cast", "Gather"])
    }

    @Test func vectorPalettesCannotBePrunedPerElement() throws {
        let p = try Self.pruned()
        var config = PalettizationConfig(mode: .kmeans, nbits: 2, granularity: .perTensor, clusterDim: 3, weightThreshold: 0)
        config.channelAxis = 0
        let palette = try p.denseBytes().withUnsafeBytes { try Palettizer(config).palettize($0, type: .float32, shape: [3, 4]) }
        #expect { try ONNXDequantization.prunedPalettized(p, palette, weight: "W") } throws: { error in
            if case ONNXError.inexpressible = error { return true }
            return false
        }
    }
}
