import Testing
import QuantCore
@testable import ModelFormats

/// 32 weights for a [4, 8] tensor, each row on a different scale so per-channel parameters differ.
private let weights: [Float] = (0..<32).map { (i: Int) -> Float in
    let level = Float((i * 7) % 19 - 9)
    return level * Float(i / 8 + 1) * 0.1
}

private func quantized(_ config: LinearQuantizationConfig, _ values: [Float] = weights, shape: [Int] = [4, 8]) throws -> LinearQuantizedTensor {
    try values.withUnsafeBufferPointer { try LinearQuantizer(config).quantize($0, shape: shape, scaleType: .float16) }
}

/// Palettized from float16 weights, so the LUT is float16 as the ops store it.
private func palettized(_ config: PalettizationConfig) throws -> PalettizedTensor {
    let halves = weights.map { FloatConversion.float16Bits($0).littleEndian }
    return try halves.withUnsafeBytes { try Palettizer(config).palettize($0, type: .float16, shape: [4, 8]) }
}

/// 15 weights, so the mask needs a partly used second byte.
private func pruned() throws -> PrunedTensor {
    let values: [Float] = (1...15).map { Float($0 % 2 == 0 ? $0 : -$0) }
    let pruner = Pruner(try PruningConfig.magnitude(targetSparsity: 0.5, weightThreshold: 0))
    return try #require(try values.withUnsafeBytes { try pruner.prune($0, type: .float32, shape: [3, 5]) })
}

private func blob(_ tensor: MILTensor?) -> [UInt8]? {
    if case .blob(let bytes)? = tensor?.storage { bytes } else { nil }
}

/// Float16 blob bytes read back as floats.
private func float16s(_ tensor: MILTensor?) -> [Float]? {
    guard let bytes = blob(tensor), tensor?.dataType == .float16 else { return nil }
    return stride(from: 0, to: bytes.count, by: 2).map { FloatConversion.float(float16Bits: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
}

/// 4-bit codes two to a byte, the first in the low nibble, as Core ML reads int4/uint4 data;
/// written out here rather than taken from `BitPacking` so the expectation is independent.
private func nibbles(_ codes: [UInt8]) -> [UInt8] {
    stride(from: 0, to: codes.count, by: 2).map { i in
        (codes[i] & 0xF) | (i + 1 < codes.count ? (codes[i + 1] & 0xF) << 4 : 0)
    }
}

@Suite struct ConstexprEncodingTests {
    // MARK: - Linear quantization, iOS16/iOS17

    @Test(arguments: [MILOpset.iOS16, .iOS17])
    func perChannelInt8IsAnAffineDequantize(opset: MILOpset) throws {
        let q = try quantized(LinearQuantizationConfig(dtype: .int8, granularity: .perChannel))
        let op = try ConstexprEncoding.linear(q, weightType: .float16, opset: opset)
        #expect(op.type == "constexpr_affine_dequantize")
        #expect(Set(op.parameters.keys) == ["quantized_data", "zero_point", "scale", "axis"])
        let data = op.parameters["quantized_data"]
        #expect(data?.dataType == .int8 && data?.shape == [4, 8])
        #expect(blob(data) == q.codes)
        // Symmetric int8 has no zero points, but the iOS16 op requires them.
        let zeroPoint = op.parameters["zero_point"]
        #expect(zeroPoint?.dataType == .int8 && zeroPoint?.shape == [4])
        #expect(blob(zeroPoint) == [0, 0, 0, 0])
        let scale = op.parameters["scale"]
        #expect(scale?.dataType == .float16 && scale?.shape == [4])
        #expect(float16s(scale) == q.scales)
        #expect(Set(q.scales).count == 4)
        #expect(op.parameters["axis"] == MILTensor(.int32, shape: [], storage: .int32([0])))
    }

    @Test func perChannelAlongAnotherAxisNamesIt() throws {
        let q = try quantized(LinearQuantizationConfig(dtype: .int8, granularity: .perChannel, outputAxis: 1, inputAxis: 0))
        let op = try ConstexprEncoding.linear(q, weightType: .float16, opset: .iOS16)
        #expect(op.parameters["zero_point"]?.shape == [8])
        #expect(op.parameters["scale"]?.shape == [8])
        #expect(float16s(op.parameters["scale"]) == q.scales)
        #expect(op.parameters["axis"]?.storage == .int32([1]))
    }

    @Test func perTensorParametersAreScalars() throws {
        let q = try quantized(LinearQuantizationConfig(mode: .linear, dtype: .uint8, granularity: .perTensor))
        let zeroPoints = try #require(q.zeroPoints)
        #expect(zeroPoints != [0])
        let op = try ConstexprEncoding.linear(q, weightType: .float16, opset: .iOS16)
        #expect(op.parameters["quantized_data"]?.dataType == .uint8)
        let zeroPoint = op.parameters["zero_point"]
        #expect(zeroPoint?.dataType == .uint8 && zeroPoint?.shape == [])
        #expect(blob(zeroPoint) == zeroPoints)
        #expect(op.parameters["scale"]?.shape == [])
        #expect(float16s(op.parameters["scale"]) == q.scales)
        #expect(op.parameters["axis"]?.storage == .int32([0]))
    }

    @Test func whatIOS16CannotExpressNeedsIOS18() throws {
        let int4 = try quantized(LinearQuantizationConfig(dtype: .int4))
        #expect(throws: ConstexprEncodingError.needsIOS18("int4 weights", .iOS16)) {
            try ConstexprEncoding.linear(int4, weightType: .float16, opset: .iOS16)
        }
        let uint4 = try quantized(LinearQuantizationConfig(dtype: .uint4))
        #expect(throws: ConstexprEncodingError.needsIOS18("uint4 weights", .iOS17)) {
            try ConstexprEncoding.linear(uint4, weightType: .float16, opset: .iOS17)
        }
        let blocks = try quantized(LinearQuantizationConfig(dtype: .int8, granularity: .perBlock, blockSize: .alongInputAxis(4)))
        #expect(throws: ConstexprEncodingError.needsIOS18("per_block quantization", .iOS16)) {
            try ConstexprEncoding.linear(blocks, weightType: .float16, opset: .iOS16)
        }
    }

    // MARK: - Linear quantization, iOS18

    @Test func int4BlocksAreABlockwiseShiftScale() throws {
        let q = try quantized(LinearQuantizationConfig(dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(4)))
        #expect(q.zeroPoints == nil)
        let op = try ConstexprEncoding.linear(q, weightType: .float16, opset: .iOS18)
        #expect(op.type == "constexpr_blockwise_shift_scale")
        #expect(Set(op.parameters.keys) == ["data", "scale"])
        let data = op.parameters["data"]
        #expect(data?.dataType == .int4 && data?.shape == [4, 8])
        #expect(blob(data) == nibbles(q.codes))
        #expect(blob(data)?.count == 16)
        let scale = op.parameters["scale"]
        #expect(q.scaleShape == [4, 2])
        #expect(scale?.dataType == .float16 && scale?.shape == q.scaleShape)
        #expect(float16s(scale) == q.scales)
    }

    @Test func zeroPointsBecomeAnOffsetOfTheDataType() throws {
        // 15 elements: the packed data ends in half a byte.
        let values = Array(weights.prefix(15)).map { $0 + 0.35 }
        let q = try quantized(LinearQuantizationConfig(mode: .linear, dtype: .uint4), values, shape: [3, 5])
        let zeroPoints = try #require(q.zeroPoints)
        let op = try ConstexprEncoding.linear(q, weightType: .float16, opset: .iOS18)
        #expect(Set(op.parameters.keys) == ["data", "scale", "offset"])
        let data = op.parameters["data"]
        #expect(data?.dataType == .uint4 && data?.shape == [3, 5])
        #expect(blob(data) == nibbles(q.codes))
        #expect(blob(data)?.count == 8)
        let offset = op.parameters["offset"]
        #expect(offset?.dataType == .uint4 && offset?.shape == [3, 1])
        #expect(blob(offset) == nibbles(zeroPoints))
    }

    @Test func int8StaysOneByteAnElementAndFloat32ScalesStayFloat32() throws {
        let q = try quantized(LinearQuantizationConfig(dtype: .int8))
        let op = try ConstexprEncoding.linear(q, weightType: .float32, opset: .iOS18)
        #expect(op.parameters["data"]?.dataType == .int8)
        #expect(blob(op.parameters["data"]) == q.codes)
        #expect(op.parameters["offset"] == nil)
        let scale = op.parameters["scale"]
        #expect(scale?.dataType == .float32 && scale?.shape == [4, 1])
        let floats = try #require(blob(scale)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(floats == q.scales)
    }

    // MARK: - Palettization

    @Test func perTensorLUTIsAPackedLUTToDense() throws {
        let p = try palettized(PalettizationConfig(mode: .uniform, nbits: 4))
        let op = try ConstexprEncoding.palettized(p, weightType: .float16, opset: .iOS16)
        #expect(op.type == "constexpr_lut_to_dense")
        #expect(Set(op.parameters.keys) == ["lut", "indices", "shape"])
        let lut = op.parameters["lut"]
        #expect(lut?.dataType == .float16 && lut?.shape == [16])
        #expect(float16s(lut) == p.lut)
        let indices = op.parameters["indices"]
        #expect(indices?.dataType == .uint8 && indices?.shape == [32 * 4 / 8])
        #expect(blob(indices) == nibbles(p.indices))
        #expect(op.parameters["shape"] == MILTensor(.uint32, shape: [2], storage: .uint32([4, 8])))
    }

    @Test func whatIOS16PalettesCannotExpressNeedsIOS18() throws {
        let grouped = try palettized(PalettizationConfig(mode: .uniform, nbits: 4, granularity: .perGroupedChannel, groupSize: 2))
        #expect(throws: ConstexprEncodingError.needsIOS18("per_grouped_channel palettization", .iOS16)) {
            try ConstexprEncoding.palettized(grouped, weightType: .float16, opset: .iOS16)
        }
        let threeBit = try palettized(PalettizationConfig(mode: .uniform, nbits: 3))
        #expect(throws: ConstexprEncodingError.needsIOS18("3-bit palettization", .iOS17)) {
            try ConstexprEncoding.palettized(threeBit, weightType: .float16, opset: .iOS17)
        }
        let vectors = try palettized(PalettizationConfig(mode: .kmeans, nbits: 2, clusterDim: 2))
        #expect(throws: ConstexprEncodingError.needsIOS18("vector palettization (cluster_dim > 1)", .iOS16)) {
            try ConstexprEncoding.palettized(vectors, weightType: .float16, opset: .iOS16)
        }
    }

    @Test func groupedLUTsHaveTheirGroupsOnTheChannelAxis() throws {
        let byRows = try palettized(PalettizationConfig(mode: .uniform, nbits: 4, granularity: .perGroupedChannel, groupSize: 2))
        let rowsOp = try ConstexprEncoding.palettized(byRows, weightType: .float16, opset: .iOS18)
        #expect(Set(rowsOp.parameters.keys) == ["lut", "indices"])
        #expect(rowsOp.parameters["lut"]?.shape == [2, 1, 16, 1])
        #expect(float16s(rowsOp.parameters["lut"]) == byRows.lut)
        let indices = rowsOp.parameters["indices"]
        #expect(indices?.dataType == .uint4 && indices?.shape == [4, 8])
        #expect(blob(indices) == nibbles(byRows.indices))

        let byColumns = try palettized(PalettizationConfig(mode: .uniform, nbits: 4, granularity: .perGroupedChannel,
                                                           groupSize: 4, channelAxis: 1))
        let columnsOp = try ConstexprEncoding.palettized(byColumns, weightType: .float16, opset: .iOS18)
        #expect(columnsOp.parameters["lut"]?.shape == [1, 2, 16, 1])
    }

    @Test func iOS18IndicesTakeTheirBitWidth() throws {
        let p = try palettized(PalettizationConfig(mode: .uniform, nbits: 3))
        let op = try ConstexprEncoding.palettized(p, weightType: .float16, opset: .iOS18)
        let indices = op.parameters["indices"]
        #expect(indices?.dataType == .uint3 && indices?.shape == [4, 8])
        #expect(blob(indices) == BitPacking.pack(p.indices, bits: 3))
        #expect(blob(indices)?.count == 12)
        #expect(op.parameters["lut"]?.shape == [1, 1, 8, 1])
    }

    @Test func perChannelScalesScaleACopyOfTheLUTPerPosition() throws {
        // Shape [4, 8], channel axis 0: one scale per column (coremltools reduces over the
        // channel axis), so the LUT is repeated 8 times along axis 1.
        let p = try palettized(PalettizationConfig(mode: .uniform, nbits: 4, enablePerChannelScale: true))
        let scales = try #require(p.perChannelScale)
        #expect(throws: ConstexprEncodingError.needsIOS18("enable_per_channel_scale", .iOS16)) {
            try ConstexprEncoding.palettizedWithChannelScale(p, weightType: .float16, opset: .iOS16)
        }
        let chain = try ConstexprEncoding.palettizedWithChannelScale(p, weightType: .float16, opset: .iOS18)
        #expect(chain.map(\.type) == ["constexpr_blockwise_shift_scale", "constexpr_lut_to_dense"])
        let data = try #require(chain[0].parameters["data"])
        #expect(data.shape == [1, 8, 16, 1])
        let halves = p.lut.map { FloatConversion.float16Bits($0).littleEndian }
        let lutBytes = halves.withUnsafeBytes { Array($0) }
        #expect(blob(data) == Array((0..<8).map { _ in lutBytes }.joined()))
        let scale = try #require(chain[0].parameters["scale"])
        #expect(scale.shape == [1, 8, 1, 1])
        #expect(blob(scale) == scales.map { FloatConversion.float16Bits($0).littleEndian }.withUnsafeBytes { Array($0) })
        #expect(chain[0].outputs == [.init(.float16, shape: [1, 8, 16, 1])])
        #expect(chain[1].references == ["lut": .init(op: 0, output: 0)])
        #expect(chain[1].parameters["indices"]?.dataType == .uint4)
    }

    // MARK: - Pruning

    @Test func iOS16MaskIsBytesWithAShape() throws {
        let s = try pruned()
        let op = ConstexprEncoding.pruned(s, weightType: .float32, opset: .iOS16)
        #expect(op.type == "constexpr_sparse_to_dense")
        #expect(Set(op.parameters.keys) == ["nonzero_data", "mask", "shape"])
        let values = op.parameters["nonzero_data"]
        #expect(values?.dataType == .float32 && values?.shape == [s.nonZeroCount])
        #expect(blob(values) == s.values)
        let mask = op.parameters["mask"]
        #expect(mask?.dataType == .uint8 && mask?.shape == [2])
        #expect(blob(mask) == s.mask)
        #expect(op.parameters["shape"] == MILTensor(.uint32, shape: [2], storage: .uint32([3, 5])))
    }

    @Test func iOS18MaskIsUInt1OfTheWeightShape() throws {
        let s = try pruned()
        #expect(s.nonZeroCount > 0 && s.nonZeroCount < 15)
        let op = ConstexprEncoding.pruned(s, weightType: .float32, opset: .iOS18)
        #expect(op.type == "constexpr_sparse_to_dense")
        #expect(Set(op.parameters.keys) == ["nonzero_data", "mask"])
        #expect(op.parameters["nonzero_data"]?.shape == [s.nonZeroCount])
        #expect(blob(op.parameters["nonzero_data"]) == s.values)
        let mask = op.parameters["mask"]
        #expect(mask?.dataType == .uint1 && mask?.shape == [3, 5])
        #expect(blob(mask) == s.mask)
    }
}
