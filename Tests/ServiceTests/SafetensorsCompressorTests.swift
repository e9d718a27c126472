import Foundation
import Glibc
import ModelFormats
import QuantCore
import Testing
@testable import Service

@Suite struct SafetensorsCompressorTests {
    struct Tensor {
        var name: String
        var dtype: ScalarType
        var shape: [Int]
        var values: [Float]
    }

    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
    }

    static func bytes(_ values: [Float], _ dtype: ScalarType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * dtype.byteWidth)
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBytes { try! FloatConversion.encode(v, to: dtype, into: $0) }
        }
        return out
    }

    /// Writes the tensors as safetensors, compresses them, and opens the artifact.
    static func compress(_ tensors: [Tensor], config: OptimizationConfig, rest: [OptimizationConfig] = []) throws -> (SafetensorsFile, CompressionOutcome, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compressor-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let input = dir.appendingPathComponent("in.safetensors"), output = dir.appendingPathComponent("out.safetensors")
        let writer = try SafetensorsWriter(entries: tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
                                           metadata: ["origin": "test"])
        let encoded = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, bytes($0.values, $0.dtype)) })
        var fd = open(input.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try writer.write(toFileDescriptor: fd) { info, emit in try encoded[info.name]!.withUnsafeBytes { try emit($0) } }
        close(fd)
        fd = open(output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        let outcome = try SafetensorsCompressor(pipeline: CompressionPipeline([config] + rest)).compress(try SafetensorsFile(path: input.path), to: { try writeAll($0, to: fd) },
                                                                        progress: { _ in }, isCancelled: { false })
        return (try SafetensorsFile(path: output.path), outcome, dir)
    }

    static func floats(_ file: SafetensorsFile, _ name: String) throws -> [Float] {
        let info = try #require(file.tensor(named: name))
        var out = [Float](repeating: 0, count: info.elementCount)
        try file.withTensorBytes(info) { b in try out.withUnsafeMutableBufferPointer { try FloatConversion.decode(b, from: info.dtype, into: $0) } }
        return out
    }

    static let w8 = OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig()))

    @Test func int8PerChannelLayoutAndRoundTrip() throws {
        let weight = Tensor(name: "fc.weight", dtype: .float16, shape: [64, 48], values: Self.random(64 * 48, seed: 1))
        let bias = Tensor(name: "fc.bias", dtype: .float32, shape: [64], values: Self.random(64, seed: 2))
        let (out, outcome, dir) = try Self.compress([weight, bias], config: Self.w8)
        defer { try? FileManager.default.removeItem(at: dir) }

        let q = try #require(out.tensor(named: "fc.weight"))
        let scale = try #require(out.tensor(named: "fc.weight::scale"))
        #expect(q.dtype == .int8 && q.shape == [64, 48])
        #expect(scale.dtype == .float16 && scale.shape == [64, 1])
        #expect(out.tensor(named: "fc.weight::zero_point") == nil)
        #expect(out.metadata["origin"] == "test")
        #expect(out.metadata["quantd.format_version"] == "1")
        let meta = try #require(out.metadata["quantd:fc.weight"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(meta.utf8)) as? [String: Any])
        #expect(object["mode"] as? String == "linear_symmetric")
        #expect(object["original_dtype"] as? String == "F16")

        // The reconstruction is within half a step of the (fp16-rounded) original.
        let original = try Self.floats(out, "fc.weight::scale")
        let codes: [Int8] = try out.withTensorBytes(q) { Array($0.bindMemory(to: Int8.self)) }
        let source = Self.bytes(weight.values, .float16).withUnsafeBytes { b in
            var f = [Float](repeating: 0, count: 64 * 48)
            f.withUnsafeMutableBufferPointer { try! FloatConversion.decode(b, from: .float16, into: $0) }
            return f
        }
        for row in 0..<64 {
            let s = original[row]
            #expect(s > 0)
            let rowMax = (0..<48).map { abs(source[row * 48 + $0]) }.max()!
            #expect(codes[(row * 48)..<(row * 48 + 48)].map { abs(Int($0)) }.max()! == 127 || rowMax == 0)
            // coremltools divides in float16, whose spacing near 127 is 1/16: the code may be
            // one rounding of the quotient off from the exact nearest level.
            for col in 0..<48 {
                #expect(abs(Float(codes[row * 48 + col]) * s - source[row * 48 + col]) <= s * (0.5 + 1.0 / 16) * 1.001)
            }
        }
        // The bias is rank 1: copied byte for byte.
        #expect(try Self.floats(out, "fc.bias") == bias.values)
        let report = try #require(outcome.tensors.first { $0.name == "fc.weight" })
        #expect(report.action == "compressed")
        #expect(report.bytesAfter == 64 * 48 + 64 * 2)
        #expect((report.sqnrDB ?? 0) > 30)
        #expect(outcome.tensors.first { $0.name == "fc.bias" }?.reason == "rank 1 < 2")
    }

    @Test func nullOpNameConfigLeavesTheTensorAlone() throws {
        let a = Tensor(name: "keep", dtype: .float32, shape: [64, 64], values: Self.random(4096, seed: 3))
        let b = Tensor(name: "quantize", dtype: .float32, shape: [64, 64], values: Self.random(4096, seed: 4))
        let config = OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig()), opNameConfigs: ["keep": nil])
        let (out, outcome, dir) = try Self.compress([a, b], config: config)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(out.tensor(named: "keep")?.dtype == .float32)
        #expect(try Self.floats(out, "keep") == a.values)
        #expect(out.tensor(named: "quantize")?.dtype == .int8)
        #expect(outcome.tensors.first { $0.name == "keep" }?.reason == "excluded by the config")
    }

    @Test func thresholdAndNonFloatTensorsStayUnchanged() throws {
        let small = Tensor(name: "small", dtype: .float32, shape: [32, 64], values: Self.random(2048, seed: 5))
        let (out, outcome, dir) = try Self.compress([small], config: Self.w8)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(out.tensor(named: "small")?.dtype == .float32)
        #expect(outcome.tensors[0].reason?.contains("weight_threshold 2048") == true)
    }

    @Test func asymmetricModeWritesZeroPoints() throws {
        let w = Tensor(name: "w", dtype: .float32, shape: [16, 256], values: Self.random(4096, seed: 6).map { $0 + 0.3 })
        let config = OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig(mode: .linear, dtype: .uint8)))
        let (out, _, dir) = try Self.compress([w], config: config)
        defer { try? FileManager.default.removeItem(at: dir) }
        let zp = try #require(out.tensor(named: "w::zero_point"))
        #expect(zp.dtype == .uint8 && zp.shape == [16, 1])
        #expect(out.tensor(named: "w")?.dtype == .uint8)
        let scales = try Self.floats(out, "w::scale")
        let codes: [UInt8] = try out.withTensorBytes(out.tensor(named: "w")!) { Array($0) }
        let zeros: [UInt8] = try out.withTensorBytes(zp) { Array($0) }
        for i in 0..<4096 {
            let row = i / 256
            let rebuilt = (Float(codes[i]) - Float(zeros[row])) * scales[row]
            #expect(abs(rebuilt - w.values[i]) <= scales[row] / 2 * 1.001 + 1e-6)
        }
    }

    @Test func blocksThatDoNotDivideAreSkippedWithAWarning() throws {
        let w = Tensor(name: "odd", dtype: .float32, shape: [64, 50], values: Self.random(3200, seed: 7))
        let config = OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig(granularity: .perBlock, blockSize: .alongInputAxis(32))))
        let (out, outcome, dir) = try Self.compress([w], config: config)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(out.tensor(named: "odd")?.dtype == .float32)
        #expect(outcome.warnings.count == 1)
        #expect(outcome.warnings[0].contains("odd"))
    }

    @Test func perBlockScalesHaveOneEntryPerBlock() throws {
        let w = Tensor(name: "w", dtype: .bfloat16, shape: [8, 64, 3, 3], values: Self.random(8 * 64 * 9, seed: 8))
        let config = OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig(granularity: .perBlock, blockSize: .alongInputAxis(16))))
        let (out, _, dir) = try Self.compress([w], config: config)
        defer { try? FileManager.default.removeItem(at: dir) }
        let scale = try #require(out.tensor(named: "w::scale"))
        #expect(scale.shape == [8, 4, 1, 1])
        #expect(scale.dtype == .bfloat16)
    }

    @Test func cancellationStopsTheWrite() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compressor-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.safetensors")
        let values = Self.bytes(Self.random(4096, seed: 9), .float32)
        let writer = try SafetensorsWriter(entries: [.init(name: "w", dtype: .float32, shape: [64, 64])])
        let fd = open(input.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try writer.write(toFileDescriptor: fd) { _, emit in try values.withUnsafeBytes { try emit($0) } }
        close(fd)
        let out = open("/dev/null", O_WRONLY)
        defer { close(out) }
        #expect(throws: CancellationError.self) {
            try SafetensorsCompressor(pipeline: CompressionPipeline(Self.w8)).compress(try SafetensorsFile(path: input.path), to: { try writeAll($0, to: out) },
                                                              progress: { _ in }, isCancelled: { true })
        }
    }
}

extension SafetensorsCompressorTests {
    @Test func int4CodesArePackedTwoPerByteLowNibbleFirst() throws {
        let t = Tensor(name: "w4", dtype: .float32, shape: [64, 64], values: Self.random(4096, seed: 12))
        let config = OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig(dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(32))))
        let (out, outcome, dir) = try Self.compress([t], config: config)
        defer { try? FileManager.default.removeItem(at: dir) }
        let packed = try #require(out.tensor(named: "w4"))
        #expect(packed.dtype == .uint8 && packed.shape == [2048])
        #expect(try #require(out.tensor(named: "w4::scale")).shape == [64, 2])
        let meta = try #require(out.metadata["quantd:w4"])
        #expect(meta.contains(#""packed_bits":4"#))
        // Unpack and rebuild: within half a step of the original.
        let bytes: [UInt8] = try out.withTensorBytes(packed) { Array($0) }
        let codes = bytes.withUnsafeBytes { BitPacking.unpack($0, count: 4096, bits: 4) }
        let scales = try Self.floats(out, "w4::scale")
        for i in 0..<4096 {
            let q = Int8(bitPattern: codes[i] << 4) >> 4
            #expect((-7...7).contains(Int(q)))
            let s = scales[(i / 64) * 2 + (i % 64) / 32]
            #expect(abs(Float(q) * s - t.values[i]) <= s / 2 * 1.001 + 1e-7)
        }
        #expect(outcome.tensors[0].bitsPerWeight == Double((2048 + 128 * 4) * 8) / 4096)
    }
}

extension SafetensorsCompressorTests {
    static func compress(_ tensors: [Tensor], pipeline: CompressionPipeline) throws -> (SafetensorsFile, CompressionOutcome, URL) {
        try compress(tensors, config: pipeline.stages[0], rest: Array(pipeline.stages.dropFirst()))
    }

    static func maskBits(_ file: SafetensorsFile, _ name: String, count: Int) throws -> [Bool] {
        let bytes: [UInt8] = try file.withTensorBytes(try #require(file.tensor(named: name + "::mask"))) { Array($0) }
        return (0..<count).map { bytes[$0 >> 3] & (1 << ($0 & 7)) != 0 }
    }

    @Test func magnitudePruningStoresMaskAndKeptValues() throws {
        let w = Tensor(name: "w", dtype: .float32, shape: [64, 64], values: Self.random(4096, seed: 20))
        let p = try PruningConfig.magnitude(targetSparsity: 0.5)
        let (out, outcome, dir) = try Self.compress([w], config: OptimizationConfig(configType: p.configType, global: .pruning(p)))
        defer { try? FileManager.default.removeItem(at: dir) }
        let kept = try Self.maskBits(out, "w", count: 4096)
        let values = try Self.floats(out, "w")
        #expect(values.count == kept.filter { $0 }.count)
        #expect(abs(Double(values.count) / 4096 - 0.5) < 0.01)
        // Every kept value is the original, in order; every dropped one is no larger than any kept.
        let original = w.values
        #expect(zip(original, kept).filter { $0.1 }.map(\.0) == values)
        let maxDropped = zip(original, kept).filter { !$0.1 }.map { abs($0.0) }.max()!
        #expect(maxDropped <= values.map(abs).min()!)
        #expect(outcome.tensors[0].sparsity.map { abs($0 - 0.5) < 0.01 } == true)
        #expect(out.metadata["quantd:w"]?.contains(#""mode":"prune""#) == true)
    }

    @Test func pruneThenQuantizeKeepsCodesOfKeptWeightsOnly() throws {
        let w = Tensor(name: "w", dtype: .float16, shape: [32, 128], values: Self.random(4096, seed: 21))
        let p = try PruningConfig.magnitude(targetSparsity: 0.5)
        let pipeline = CompressionPipeline([OptimizationConfig(configType: p.configType, global: .pruning(p)),
                                            OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig()))])
        let (out, outcome, dir) = try Self.compress([w], pipeline: pipeline)
        defer { try? FileManager.default.removeItem(at: dir) }
        let kept = try Self.maskBits(out, "w", count: 4096)
        let codes = try #require(out.tensor(named: "w"))
        #expect(codes.dtype == .int8 && codes.shape == [kept.filter { $0 }.count])
        #expect(try #require(out.tensor(named: "w::scale")).shape == [32, 1])
        let report = outcome.tensors[0]
        #expect(report.mode?.hasPrefix("prune magnitude 50% + linear") == true)
        #expect((report.sqnrDB ?? 0) > 3)
        #expect(report.bitsPerWeight < 5.5)
    }
}

extension SafetensorsCompressorTests {
    static func palettize(_ c: PalettizationConfig) -> OptimizationConfig {
        OptimizationConfig(configType: "OpPalettizerConfig", global: .palettization(c))
    }

    @Test func palettizedTensorsStorePackedIndicesAndTheirLUT() throws {
        let t = Tensor(name: "w", dtype: .float16, shape: [64, 64], values: Self.random(4096, seed: 30))
        let (out, outcome, dir) = try Self.compress([t], config: Self.palettize(PalettizationConfig(nbits: 4)))
        defer { try? FileManager.default.removeItem(at: dir) }
        let indices = try #require(out.tensor(named: "w"))
        #expect(indices.dtype == .uint8 && indices.shape == [2048])
        let lut = try #require(out.tensor(named: "w::lut"))
        #expect(lut.dtype == .float16 && lut.shape == [1, 16, 1])
        // Rebuild and compare with the original: 4 bits keep > 15 dB on uniform-ish data.
        let table = try Self.floats(out, "w::lut")
        let packed: [UInt8] = try out.withTensorBytes(indices) { Array($0) }
        let codes = packed.withUnsafeBytes { BitPacking.unpack($0, count: 4096, bits: 4) }
        let source = Self.bytes(t.values, .float16).withUnsafeBytes { b in
            var f = [Float](repeating: 0, count: 4096)
            f.withUnsafeMutableBufferPointer { try! FloatConversion.decode(b, from: .float16, into: $0) }
            return f
        }
        let noise = zip(source, codes).map { Double($0 - table[Int($1)]) }.map { $0 * $0 }.reduce(0, +)
        let signal = source.map { Double($0) * Double($0) }.reduce(0, +)
        let report = outcome.tensors[0]
        #expect(abs(10 * log10(signal / noise) - (report.sqnrDB ?? 0)) < 0.01)
        #expect(report.uniqueValues == 16)
        #expect(report.bitsPerWeight == Double((2048 + 32) * 8) / 4096)
    }

    @Test func aGroupSizeThatDoesNotDivideIsRefusedBeforeAnythingRuns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("preflight-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        let values = Self.bytes(Self.random(3072, seed: 31), .float32)
        let writer = try SafetensorsWriter(entries: [.init(name: "w", dtype: .float32, shape: [48, 64])])
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try writer.write(toFileDescriptor: fd) { _, emit in try values.withUnsafeBytes { try emit($0) } }
        close(fd)
        let config = CompressionPipeline(Self.palettize(PalettizationConfig(nbits: 4, granularity: .perGroupedChannel, groupSize: 32)))
        do {
            try ConfigPreflight.check(config, against: try SafetensorsFile(path: path))
            Issue.record("48 channels in groups of 32 must be refused")
        } catch let problem as Problem {
            #expect(problem.status == 422)
            #expect(problem.extensions["field"] == "group_size")
            #expect(problem.detail.contains("'w'"))
        }
        let fine = CompressionPipeline(Self.palettize(PalettizationConfig(nbits: 4, granularity: .perGroupedChannel, groupSize: 16)))
        try ConfigPreflight.check(fine, against: try SafetensorsFile(path: path))
    }

    @Test func palettizeThenQuantizeStoresAnInt8LUT() throws {
        let t = Tensor(name: "w", dtype: .float32, shape: [256, 64], values: Self.random(256 * 64, seed: 32))
        let lutQuantization = OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig(granularity: .perTensor, weightThreshold: 0)))
        let (out, outcome, dir) = try Self.compress([t], config: Self.palettize(PalettizationConfig(nbits: 6, granularity: .perGroupedChannel, groupSize: 1)),
                                                    rest: [lutQuantization])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(out.tensor(named: "w::lut")?.dtype == .int8)
        #expect(out.tensor(named: "w::lut")?.shape == [256, 64, 1])
        #expect(out.tensor(named: "w::lut_scale") != nil)
        #expect(outcome.tensors[0].mode?.hasSuffix("+ LUT linear linear_symmetric int8") == true)
        #expect((outcome.tensors[0].sqnrDB ?? 0) > 20)
    }
}

/// A weight holding inf or NaN cannot be quantized, palettized or ranked by magnitude: it is
/// left as it is, with a warning naming it, and the rest of the model is compressed.
@Suite struct NonFiniteWeightTests {
    static func config(_ index: Int) throws -> (String, OptimizationConfig) {
        switch index {
        case 0: return ("int8", SafetensorsCompressorTests.w8)
        case 1: return ("k-means", OptimizationConfig(configType: "OpPalettizerConfig",
                                                       global: .palettization(PalettizationConfig(mode: .kmeans, nbits: 4))))
        default:
            let p = try PruningConfig.magnitude(targetSparsity: 0.5)
            return ("magnitude pruning", OptimizationConfig(configType: p.configType, global: .pruning(p)))
        }
    }

    @Test(arguments: [Float.nan, .infinity], 0..<3)
    func aNonFiniteWeightIsLeftUnchangedWithAWarning(bad: Float, config: Int) throws {
        var broken = SafetensorsCompressorTests.random(64 * 48, seed: 3)
        broken[100] = bad
        let tensors = [
            SafetensorsCompressorTests.Tensor(name: "broken.weight", dtype: .float32, shape: [64, 48], values: broken),
            SafetensorsCompressorTests.Tensor(name: "fine.weight", dtype: .float32, shape: [64, 48], values: SafetensorsCompressorTests.random(64 * 48, seed: 4)),
        ]
        let (label, optimization) = try Self.config(config)
        let (file, outcome, dir) = try SafetensorsCompressorTests.compress(tensors, config: optimization)
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = try #require(outcome.tensors.first { $0.name == "broken.weight" })
        #expect(report.action == "unchanged", "\(label)")
        #expect(report.reason?.contains("inf or NaN") == true, "\(label): \(report.reason ?? "-")")
        #expect(outcome.warnings.contains { $0.hasPrefix("broken.weight: ") && $0.contains("inf or NaN") }, "\(label): \(outcome.warnings)")
        #expect(!outcome.warnings.contains { $0.contains("linearly quantized") }, "\(label)")
        let stored = try SafetensorsCompressorTests.floats(file, "broken.weight")
        #expect(stored.enumerated().allSatisfy { $0.offset == 100 ? !$0.element.isFinite : $0.element == broken[$0.offset] })
        #expect(outcome.tensors.first { $0.name == "fine.weight" }?.action == "compressed", "\(label)")
    }
}
