import QuantCore
import Testing
@testable import ModelFormats

/// The node chains were run once in onnxruntime 1.23.2 and matched `dequantized()` bit for bit.
@Suite struct ONNXDequantizationPalettizedTests {
    static func palettize(_ shape: [Int], type: ScalarType = .float32, _ config: PalettizationConfig) throws -> PalettizedTensor {
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0 % 7) - 3 }
        var config = config
        config.channelAxis = config.channelAxis ?? 0
        return try ONNXFloatEncoding.bytes(values, as: type).withUnsafeBytes { try Palettizer(config).palettize($0, type: type, shape: shape) }
    }

    @Test func fourBitIndicesArePackedAndGatheredFromTheLUT() throws {
        let p = try Self.palettize([4, 6], .init(mode: .kmeans, nbits: 4, granularity: .perTensor, weightThreshold: 0))
        let dq = ONNXDequantization.palettized(p, weight: "W")
        #expect(dq.initializers.map(\.name) == ["W_indices", "W_lut"])
        #expect(dq.initializers[0].dataType == .uint4 && dq.initializers[0].bytes.count == 12)
        #expect(dq.initializers[1].dims == [16])
        #expect(dq.nodes.map(\.opType) == ["Cast", "Gather"] && dq.nodes.last?.outputs == ["W"])
        #expect(dq.minimumOpset == 21 && dq.minimumIRVersion == 10)
    }

    @Test func groupedLUTsAddAnOffsetPerChannel() throws {
        let p = try Self.palettize([4, 6], type: .float16, .init(mode: .kmeans, nbits: 6, granularity: .perGroupedChannel, groupSize: 2, weightThreshold: 0))
        let dq = ONNXDequantization.palettized(p, weight: "W")
        #expect(dq.initializers[0].dataType == .uint8 && dq.minimumOpset == 13)
        let offsets = try #require(dq.initializers.first { $0.name == "W_group_offsets" })
        #expect(offsets.dims == [4, 1] && offsets.bytes == ONNXTensor.int32("", dims: [], [0, 0, 64, 64]).bytes)
        #expect(dq.nodes.map(\.opType) == ["Cast", "Add", "Gather"])
    }

    @Test func vectorsAreMovedBackOntoTheChannelAxis() throws {
        let p = try Self.palettize([4, 3, 2], .init(mode: .kmeans, nbits: 2, granularity: .perTensor, clusterDim: 2, weightThreshold: 0))
        let dq = ONNXDequantization.palettized(p, weight: "W")
        #expect(dq.initializers[0].dims == [2, 3, 2])
        #expect(dq.nodes.map(\.opType) == ["Cast", "Gather", "Transpose", "Reshape"])
        #expect(dq.nodes[2].attributes == [.init("perm", .ints([0, 3, 1, 2]))])
        #expect(dq.initializers.first { $0.name == "W_shape" } == .int64("W_shape", dims: [3], [4, 3, 2]))
    }

    @Test func perChannelScalesMultiplyLastAndBFloat16CastsAtTheEnd() throws {
        let p = try Self.palettize([4, 6], type: .bfloat16, .init(mode: .kmeans, nbits: 3, granularity: .perTensor, enablePerChannelScale: true, weightThreshold: 0))
        let dq = ONNXDequantization.palettized(p, weight: "W")
        #expect(dq.nodes.map(\.opType) == ["Cast", "Gather", "Mul", "Cast"])
        #expect(dq.initializers.first { $0.name == "W_scale" }?.dims == [1, 6])
        #expect(dq.initializers.first { $0.name == "W_lut" }?.dataType == .float)
    }
}
