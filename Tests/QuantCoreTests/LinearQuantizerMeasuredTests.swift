import Testing
@testable import QuantCore

/// `quantizeMeasured` measures each run as its codes are written; it must give the tensor
/// `quantize` gives and exactly the metrics of the separate pass, whatever the layout.
@Suite struct LinearQuantizerMeasuredTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var type: ScalarType
        var shape: [Int]
        var config: LinearQuantizationConfig
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        let layouts: [(String, [Int], LinearQuantizationConfig.Granularity, LinearQuantizationConfig.BlockSize)] = [
            // Short runs (64) over enough elements for several parallel chunks.
            ("per-channel 1x1 conv", [4096, 64, 1, 1], .perChannel, .alongInputAxis(32)),
            // Runs with a tail of fewer than eight elements (147 = 3·7·7).
            ("per-channel 7x7 conv", [256, 3, 7, 7], .perChannel, .alongInputAxis(32)),
            ("per-block 32", [512, 1024], .perBlock, .alongInputAxis(32)),
            ("per-tensor", [300, 700], .perTensor, .alongInputAxis(32)),
            // Blocks across rows: runs of `.across` kind, measured in the separate pass.
            ("per-block along the output axis", [64, 96], .perBlock, .perAxis([16, 1])),
        ]
        for (name, shape, granularity, blockSize) in layouts {
            for dtype in LinearQuantizationConfig.DType.allCases {
                for mode in [LinearQuantizationConfig.Mode.linearSymmetric, .linear] {
                    for type in [ScalarType.float16, .float32, .bfloat16] {
                        cases.append(Case(name: "\(name) \(dtype) \(mode) \(type)", type: type, shape: shape,
                                          config: LinearQuantizationConfig(mode: mode, dtype: dtype, granularity: granularity,
                                                                           blockSize: blockSize)))
                    }
                }
            }
        }
        return cases
    }()

    /// Normal-ish weights with an outlier per 1000 and exact zeros, in `type`'s bytes.
    static func weights(_ count: Int, _ type: ScalarType, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * type.byteWidth)
        for i in 0..<count {
            let u = Float(rng.next() >> 40) / Float(1 << 24) - 0.5
            let value: Float = i % 997 == 0 ? u * 40 : (i % 13 == 0 ? 0 : u * u * u * 0.3)
            switch type {
            case .float16: withUnsafeBytes(of: FloatConversion.float16Bits(value).littleEndian) { bytes += $0 }
            case .bfloat16: withUnsafeBytes(of: FloatConversion.bfloat16Bits(value).littleEndian) { bytes += $0 }
            default: withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
            }
        }
        return bytes
    }

    @Test(arguments: cases)
    func equalsQuantizeThenMeasure(_ c: Case) throws {
        let bytes = Self.weights(c.shape.reduce(1, *), c.type, seed: UInt64(c.shape.reduce(1, *)))
        let quantizer = LinearQuantizer(c.config)
        try bytes.withUnsafeBytes { raw in
            let separate = try quantizer.quantize(raw, type: c.type, shape: c.shape)
            let (tensor, metrics) = try quantizer.quantizeMeasured(raw, type: c.type, shape: c.shape)
            #expect(tensor == separate)
            #expect(metrics == QuantizationErrorMetrics(original: raw, type: c.type, quantized: separate))
            #expect(metrics.sqnrDB.isFinite && metrics.sqnrDB > 0)
        }
    }
}
