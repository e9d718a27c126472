import Testing
@testable import QuantCore

/// The one-pass kernel for symmetric runs must give exactly what the general passes give:
/// codes, scales, zero points, the error sums, and the same error for weights it must refuse.
@Suite struct LinearQuantizerSymmetricRunsTests {
    typealias Case = LinearQuantizerMeasuredTests.Case

    static let cases: [Case] = {
        var cases: [Case] = []
        let layouts: [(String, [Int], LinearQuantizationConfig.Granularity, LinearQuantizationConfig.BlockSize)] = [
            // Runs of 64 over several parallel chunks, flushed every 16 runs.
            ("per-channel 1x1 conv", [4096, 64, 1, 1], .perChannel, .alongInputAxis(32)),
            ("per-channel runs of 1024", [96, 1024], .perChannel, .alongInputAxis(32)),
            // Runs longer than a measuring stretch: flushed inside the run, after 1024 elements.
            ("per-channel runs of 2600", [40, 2600], .perChannel, .alongInputAxis(32)),
            ("per-channel 3x3 conv runs of 4608", [24, 512, 3, 3], .perChannel, .alongInputAxis(32)),
            // 704 does not divide 1024: flushes fall after runs that pass it, not on a boundary.
            ("per-channel runs of 704", [300, 704], .perChannel, .alongInputAxis(32)),
            ("per-block 32", [512, 1024], .perBlock, .alongInputAxis(32)),
            ("per-block 16 of a 3x3 conv", [64, 32, 3, 3], .perBlock, .perAxis([1, 16, 0, 0])),
        ]
        for (name, shape, granularity, blockSize) in layouts {
            for dtype in LinearQuantizationConfig.DType.allCases {
                for type in [ScalarType.float16, .float32] {
                    cases.append(Case(name: "\(name) \(dtype) \(type)", type: type, shape: shape,
                                      config: LinearQuantizationConfig(mode: .linearSymmetric, dtype: dtype,
                                                                       granularity: granularity, blockSize: blockSize)))
                }
            }
        }
        return cases
    }()

    /// `LinearQuantizerMeasuredTests`' weights with an all-zero run (scale 0) and a run of
    /// float16 subnormals (a scale that rounds to a float16 subnormal) at its start.
    static func weights(_ c: Case, run: Int) -> [UInt8] {
        var bytes = LinearQuantizerMeasuredTests.weights(c.shape.reduce(1, *), c.type, seed: UInt64(c.shape.reduce(1, *)))
        let width = c.type.byteWidth
        for i in 0..<run { for b in 0..<width { bytes[i * width + b] = 0 } }
        for i in run..<(2 * run) {
            let value = Float(i % 5) * 0x1p-20 * (i % 2 == 0 ? 1 : -1)
            let encoded: [UInt8] = c.type == .float16
                ? withUnsafeBytes(of: FloatConversion.float16Bits(value).littleEndian) { Array($0) }
                : withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
            for b in 0..<width { bytes[i * width + b] = encoded[b] }
        }
        return bytes
    }

    private static func general(_ config: LinearQuantizationConfig) -> LinearQuantizer {
        var quantizer = LinearQuantizer(config)
        quantizer.fusesRuns = false
        return quantizer
    }

    @Test(arguments: cases)
    func equalsTheGeneralPasses(_ c: Case) throws {
        let plan = try LinearQuantizer.Plan(config: c.config, shape: c.shape, scaleType: LinearQuantizer.scaleType(for: c.type))
        #expect(plan.takesSymmetricRuns)
        let bytes = Self.weights(c, run: plan.layout.run.size)
        try bytes.withUnsafeBytes { raw in
            let (fused, fusedMetrics) = try LinearQuantizer(c.config).quantizeMeasured(raw, type: c.type, shape: c.shape)
            let (general, generalMetrics) = try Self.general(c.config).quantizeMeasured(raw, type: c.type, shape: c.shape)
            #expect(fused == general)
            #expect(fusedMetrics == generalMetrics)
            #expect(try LinearQuantizer(c.config).quantize(raw, type: c.type, shape: c.shape) == general)
            // The zero run stores scale 1, the subnormal run a float16 subnormal scale.
            #expect(fused.scales[0] == 1 && fused.scales[1] > 0 && fused.scales[1] < 0x1p-14)
        }
    }

    @Test(arguments: [ScalarType.float16, .float32])
    func refusesWhatTheGeneralPassesRefuse(_ type: ScalarType) throws {
        let config = LinearQuantizationConfig(mode: .linearSymmetric, dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(32))
        let shape = [256, 256]
        let infinity: [UInt8] = type == .float16 ? [0x00, 0x7C] : [0x00, 0x00, 0x80, 0x7F]
        let nan: [UInt8] = type == .float16 ? [0x01, 0x7E] : [0x01, 0x00, 0xC0, 0x7F]
        // Largest finite magnitude: twice it overflows the scale type.
        let largest: [UInt8] = type == .float16 ? [0xFF, 0xFB] : [0xFF, 0xFF, 0x7F, 0xFF]
        for (bad, expected) in [(infinity, QuantCoreError.nonFiniteWeight), (nan, .nonFiniteWeight), (largest, .scaleOverflow)] {
            var bytes = LinearQuantizerMeasuredTests.weights(shape.reduce(1, *), type, seed: 7)
            let at = 40_000 * type.byteWidth
            bytes.replaceSubrange(at..<(at + bad.count), with: bad)
            bytes.withUnsafeBytes { raw in
                #expect(throws: expected) { try LinearQuantizer(config).quantizeMeasured(raw, type: type, shape: shape) }
                #expect(throws: expected) { try Self.general(config).quantizeMeasured(raw, type: type, shape: shape) }
            }
        }
    }
}

extension LinearQuantizerSymmetricRunsTests {
    /// Float values decoded from float16, quantized with float16 arithmetic (as palette
    /// look-up tables are): float32 elements with float16 scales.
    @Test func floatValuesWithFloat16ScalesEqualTheGeneralPasses() throws {
        let config = LinearQuantizationConfig(mode: .linearSymmetric, dtype: .int8, granularity: .perChannel, blockSize: .alongInputAxis(32))
        let shape = [64, 48]
        let bytes = LinearQuantizerMeasuredTests.weights(shape.reduce(1, *), .float16, seed: 11)
        let values = bytes.withUnsafeBytes { raw in
            (0..<(raw.count / 2)).map { FloatConversion.float(float16Bits: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
        }
        #expect(try LinearQuantizer.Plan(config: config, shape: shape, scaleType: .float16).takesSymmetricRuns)
        try values.withUnsafeBufferPointer { values in
            let fused = try LinearQuantizer(config).quantize(values, shape: shape, scaleType: .float16)
            #expect(fused == (try Self.general(config).quantize(values, shape: shape, scaleType: .float16)))
            #expect(fused.scaleType == .float16)
        }
    }
}
