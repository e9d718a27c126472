import Foundation
import QuantCore
import Testing
@testable import Compression

@Suite struct WeightCompressorTests {
    /// Seeded floats in [-1, 1) as float32 bytes.
    static func weights(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
        var state = seed
        let values: [Float] = (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000) / 1000
        }
        return values.withUnsafeBytes { Array($0) }
    }

    static func pipeline(_ value: Any) throws -> CompressionPipeline { try CompressionPipeline(value: value) }

    static var int8: [String: Any] { ["config_type": "OpLinearQuantizerConfig", "global_config": ["dtype": "int8"]] }

    @Test func aWeightTheConfigExcludesOrThatIsNotFloatIsLeftAloneWithoutReadingIt() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline([
            "config_type": "OpLinearQuantizerConfig", "global_config": ["dtype": "int8"], "op_name_configs": ["skip": NSNull()],
        ]))
        let excluded = WeightCandidate(name: "skip", shape: [64, 64], type: .float32, opType: "linear")
        #expect(compressor.skip(excluded)?.form == .unchanged(.excludedByConfig))
        let ids = WeightCandidate(name: "ids", shape: [64, 64], type: .int32, opType: nil)
        #expect(compressor.skip(ids)?.form == .unchanged(.notFloatingPoint(.int32)))
        let bias = WeightCandidate(name: "b", shape: [64], type: .float32, opType: "linear")
        #expect(compressor.skip(bias)?.form == .unchanged(.rankBelowTwo(1)))
        let unread = WeightCandidate(name: "u", shape: [64, 64], type: .float32, opType: nil, ineligibility: .noConsumer)
        #expect(compressor.skip(unread)?.form == .unchanged(.noConsumer))
        let torn = WeightCandidate(name: "t", shape: [64, 64], type: .float32, opType: "MatMul", outputAxis: nil)
        #expect(compressor.skip(torn)?.form == .unchanged(.consumersDisagreeOnAxis))
        #expect(compressor.skip(WeightCandidate(name: "w", shape: [64, 64], type: .float32, opType: "linear")) == nil)
    }

    @Test func opNameWinsOverOpTypeWhichWinsOverGlobal() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline([
            "config_type": "OpLinearQuantizerConfig", "global_config": ["dtype": "int8"],
            "op_type_configs": ["Conv": ["dtype": "uint8", "mode": "linear"]],
            "op_name_configs": ["special": ["dtype": "int4", "granularity": "per_block", "block_size": 16]],
        ]))
        let bytes = Self.weights(64 * 64)
        func dtype(_ name: String, _ type: String) throws -> LinearQuantizationConfig.DType? {
            let w = WeightCandidate(name: name, shape: [64, 64], type: .float32, opType: type)
            guard case .linear(let q) = try bytes.withUnsafeBytes({ try compressor.compress(w, $0) }).form else { return nil }
            return q.config.dtype
        }
        #expect(try dtype("special", "Conv") == .int4)
        #expect(try dtype("other", "Conv") == .uint8)
        #expect(try dtype("other", "MatMul") == .int8)
    }

    @Test func linearQuantizationRunsAlongTheAxesTheFormatGives() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline(Self.int8))
        let bytes = Self.weights(64 * 48)
        let w = WeightCandidate(name: "w", shape: [64, 48], type: .float32, opType: "MatMul", outputAxis: 1)
        guard case .linear(let q) = try bytes.withUnsafeBytes({ try compressor.compress(w, $0) }).form else {
            Issue.record("not quantized"); return
        }
        #expect(q.scaleShape == [1, 48])
        #expect(q.config.outputAxis == 1 && q.config.inputAxis == 0)
    }

    /// coremltools' passes run one after the other: when pruning skips a weight the next pass
    /// sees a plain const and compresses it alone.
    @Test func aWeightThePrunerSkipsGoesOnToTheNextStage() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline([
            ["config_type": "OpMagnitudePrunerConfig", "global_config": ["n_m_ratio": [3, 4], "dim": 1]],
            Self.int8,
        ]))
        // 6 input channels: m = 4 is more than half of them, so coremltools skips n:m pruning.
        let bytes = Self.weights(512 * 6)
        let w = WeightCandidate(name: "w", shape: [512, 6], type: .float32, opType: "linear")
        let result = try bytes.withUnsafeBytes { try compressor.compress(w, $0) }
        guard case .linear = result.form else { Issue.record("\(result.form)"); return }
        #expect(result.metrics != nil)
    }

    @Test func pruningThenVectorPalettizationIsRefusedBeforeTheJob() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline([
            ["config_type": "OpMagnitudePrunerConfig", "global_config": ["target_sparsity": 0.5]],
            ["config_type": "OpPalettizerConfig", "global_config": ["nbits": 4, "cluster_dim": 2]],
        ]))
        let w = WeightCandidate(name: "w", shape: [64, 64], type: .float32, opType: "linear")
        #expect(throws: ConfigRejection.self) { try compressor.preflight(w) }
        do { try compressor.preflight(w) } catch { #expect(error.field == "cluster_dim") }
    }

    @Test func aPerTensorPalettesScaleRunsAlongTheOutputAxis() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline([
            "config_type": "OpPalettizerConfig", "global_config": ["nbits": 4, "enable_per_channel_scale": true],
        ]))
        let bytes = Self.weights(64 * 48)
        let w = WeightCandidate(name: "w", shape: [64, 48], type: .float32, opType: "MatMul", outputAxis: 1)
        guard case .palettized(let p, nil) = try bytes.withUnsafeBytes({ try compressor.compress(w, $0) }).form else {
            Issue.record("not palettized"); return
        }
        #expect(p.channelAxis == 1)
        #expect(p.perChannelScaleShape == [64, 1])
    }

    @Test func vectorPalettizationSkipsAGroupedConvolutionWhoseGroupsItDoesNotDivide() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline([
            "config_type": "OpPalettizerConfig", "global_config": ["nbits": 2, "cluster_dim": 2],
        ]))
        let bytes = Self.weights(256 * 9)
        // Depthwise: 256 groups of one channel each.
        let depthwise = WeightCandidate(name: "dw", shape: [256, 1, 3, 3], type: .float32, opType: "Conv", convolutionGroups: 256)
        guard case .unchanged(.paletteLayout) = try bytes.withUnsafeBytes({ try compressor.compress(depthwise, $0) }).form else {
            Issue.record("palettized"); return
        }
        let dense = WeightCandidate(name: "c", shape: [256, 1, 3, 3], type: .float32, opType: "Conv")
        guard case .palettized = try bytes.withUnsafeBytes({ try compressor.compress(dense, $0) }).form else {
            Issue.record("not palettized"); return
        }
    }

    @Test func nonFiniteWeightsAreLeftAloneWithAWarning() throws {
        let compressor = WeightCompressor(pipeline: try Self.pipeline(Self.int8))
        var values = [Float](repeating: 0.5, count: 64 * 64)
        values[17] = .nan
        let w = WeightCandidate(name: "w", shape: [64, 64], type: .float32, opType: "linear")
        let result = try values.withUnsafeBytes { try compressor.compress(w, $0) }
        guard case .unchanged(.nonFinite) = result.form else { Issue.record("\(result.form)"); return }
        #expect(result.warnings.count == 1 && result.warnings[0].hasPrefix("w: "))
    }

    @Test func matMulNBitsRuleQuantizesMatMulWeightsAsOnnxruntimeAndOthersAsCoremltools() throws {
        let pipeline = try Self.pipeline(["config_type": "OpLinearQuantizerConfig",
                                          "global_config": ["dtype": "int4", "granularity": "per_block", "block_size": 32]])
        let compressor = WeightCompressor(pipeline: pipeline, linearRule: .matMulNBits)
        let bytes = Self.weights(75 * 64)
        // K = 75 is no multiple of 32: onnxruntime pads it, coremltools would skip.
        let matMul = WeightCandidate(name: "b", shape: [75, 64], type: .float32, opType: "MatMul", outputAxis: 1)
        let result = try bytes.withUnsafeBytes { try compressor.compress(matMul, $0) }
        guard case .matMulNBits(let q, 4, 32, true) = result.form else { Issue.record("\(result.form)"); return }
        #expect(q.blockCount == 3 && q.n == 64)
        #expect((result.metrics?.sqnrDB ?? 0) > 15)
        let gemm = WeightCandidate(name: "g", shape: [64, 64], type: .float32, opType: "Gemm")
        guard case .linear = try Self.weights(64 * 64).withUnsafeBytes({ try compressor.compress(gemm, $0) }).form else {
            Issue.record("Gemm not linear"); return
        }
    }
}
