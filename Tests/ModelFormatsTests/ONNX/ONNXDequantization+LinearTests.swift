import QuantCore
import Testing
@testable import ModelFormats

/// The layouts were run once in onnxruntime 1.23.2 and matched `dequantized()` bit for bit.
@Suite struct ONNXDequantizationLinearTests {
    static func quantize(_ values: [Float], shape: [Int], type: ScalarType = .float32,
                         _ config: LinearQuantizationConfig) throws -> LinearQuantizedTensor {
        try ONNXFloatEncoding.bytes(values, as: type).withUnsafeBytes { try LinearQuantizer(config).quantize($0, type: type, shape: shape) }
    }

    static let weight: [Float] = [-1, -0.5, 0, 0.5, 1, 1.5, 2, -2]

    @Test func int8PerChannelIsDequantizeLinearAlongTheOutputAxis() throws {
        let q = try Self.quantize(Self.weight, shape: [2, 4], .init(mode: .linearSymmetric, dtype: .int8, granularity: .perChannel, weightThreshold: 0))
        let dq = try ONNXDequantization.linear(q, weight: "W")
        #expect(dq.initializers.map(\.name) == ["W_quantized", "W_scale"])
        #expect(dq.initializers[0].dataType == .int8 && dq.initializers[0].bytes == q.codes)
        #expect(dq.initializers[1].dims == [2] && dq.initializers[1].bytes == ONNXTestModels.floats(q.scales))
        #expect(dq.nodes == [ONNXNode(opType: "DequantizeLinear", name: "W_DequantizeLinear", inputs: ["W_quantized", "W_scale"],
                                      outputs: ["W"], attributes: [.init("axis", .int(0))])])
        #expect(dq.minimumOpset == 13 && dq.minimumIRVersion == 7)
        #expect(dq.byteCount == 8 + 8)
    }

    @Test func uint8KeepsItsZeroPointsAndF16ScalesNeedOpset19() throws {
        let q = try Self.quantize(Self.weight, shape: [2, 4], type: .float16, .init(mode: .linear, dtype: .uint8, granularity: .perTensor, weightThreshold: 0))
        let dq = try ONNXDequantization.linear(q, weight: "W")
        #expect(dq.initializers.map(\.name) == ["W_quantized", "W_scale", "W_zero_point"])
        #expect(dq.initializers[1].dataType == .float16 && dq.initializers[1].dims == [])
        #expect(dq.initializers[2].dataType == .uint8 && dq.initializers[2].bytes == q.zeroPoints)
        #expect(dq.nodes[0].inputs.count == 3 && dq.minimumOpset == 19)
    }

    @Test func fourBitBlocksPackTwoCodesPerByteAndNeedOpset21() throws {
        let q = try Self.quantize(Self.weight, shape: [2, 4], .init(mode: .linearSymmetric, dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(2), weightThreshold: 0))
        let dq = try ONNXDequantization.linear(q, weight: "W")
        #expect(dq.initializers[0].dataType == .int4 && dq.initializers[0].bytes == BitPacking.pack(q.codes, bits: 4))
        #expect(dq.initializers[1].dims == [2, 2])
        #expect(dq.nodes[0].attributes == [.init("axis", .int(1)), .init("block_size", .int(2))])
        #expect(dq.minimumOpset == 21 && dq.minimumIRVersion == 10)
    }

    @Test func bfloat16WeightsDequantizeInF32AndCast() throws {
        let q = try Self.quantize(Self.weight, shape: [2, 4], type: .bfloat16, .init(mode: .linearSymmetric, dtype: .int8, granularity: .perChannel, weightThreshold: 0))
        let dq = try ONNXDequantization.linear(q, weight: "W")
        #expect(dq.initializers[1].dataType == .float)
        #expect(dq.nodes.map(\.opType) == ["DequantizeLinear", "Cast"] && dq.nodes[1].outputs == ["W"])
        #expect(dq.nodes[1].attributes == [.init("to", .int(16))])
    }
}
