import Testing
@testable import QuantCore

/// Quantizes Float32 weights with `config`, reading the result back as integers.
private func quantize(_ weights: [Float], shape: [Int], _ config: LinearQuantizationConfig = .init()) throws -> LinearQuantizedTensor {
    try weights.withUnsafeBufferPointer { try LinearQuantizer(config).quantize($0, shape: shape) }
}

/// Quantizes weights given as binary16 bit patterns, as they arrive from a safetensors file.
private func quantize(float16Bits: [UInt16], shape: [Int], _ config: LinearQuantizationConfig = .init()) throws -> LinearQuantizedTensor {
    try float16Bits.withUnsafeBytes { try LinearQuantizer(config).quantize($0, type: .float16, shape: shape) }
}

private func integers(_ tensor: LinearQuantizedTensor) -> [Int] { tensor.codes.map(tensor.integer) }

@Suite struct LinearQuantizerTests {
    @Test func symmetricInt8RoundsHalfToEven() throws {
        // max|w| = 127 makes the scale exactly 1, so codes are the weights rounded half to even.
        let tensor = try quantize([127, 0.5, -2.5, 1.5, -0.5, 2.5, -127, 3.5], shape: [1, 8])
        #expect(tensor.scales == [1])
        #expect(integers(tensor) == [127, 0, -2, 2, 0, 2, -127, 4])
        #expect(tensor.zeroPoints == nil)
        #expect(tensor.scaleShape == [1, 1])
        #expect(tensor.scaleType == .float32)
    }

    @Test func perChannelAlongAxisZero() throws {
        let tensor = try quantize([2, -1, 0.5, 1,
                                   0, 0, 0, 0,
                                   -254, 127, 1, 0.9], shape: [3, 4])
        // Scales are 2·max/254; the all-zero row gets 1 instead of coremltools' 0 (see type doc).
        #expect(tensor.scales == [Float(4) / 254, 1, 2])
        #expect(tensor.scaleShape == [3, 1])
        #expect(integers(tensor) == [127, -64, 32, 64,
                                     0, 0, 0, 0,
                                     -127, 64, 0, 0])
    }

    @Test func perChannelAlongAxisOneMatchesTransposedAxisZero() throws {
        let rows: [Float] = [0.3, -1.7, 2.2, 0.01, 5, -0.2, 0, 0.7, -3.1, 1, 1, 1]
        let transposed = (0..<4).flatMap { column in (0..<3).map { rows[$0 * 4 + column] } }
        let alongRows = try quantize(rows, shape: [3, 4])
        let alongColumns = try quantize(transposed, shape: [4, 3], .init(outputAxis: 1, inputAxis: 0))
        #expect(alongColumns.scaleShape == [1, 3])
        #expect(alongColumns.scales == alongRows.scales)
        let retransposed = (0..<3).flatMap { row in (0..<4).map { alongColumns.codes[$0 * 3 + row] } }
        #expect(retransposed == alongRows.codes)
    }

    @Test func float16ArithmeticRoundsTheQuotientToFloat16() throws {
        // 0.4055 / 0.003511 is 115.485 in float32 but 115.5 in float16, so numpy's float16
        // division makes it round to 116 where float32 arithmetic gives 115.
        let tensor = try quantize(float16Bits: [14115, 13949], shape: [1, 2])
        #expect(integers(tensor) == [127, 116])
        #expect(tensor.scaleType == .float16)
        #expect(FloatConversion.float16Bits(tensor.scales[0]) == FloatConversion.float16Bits(0.003511))
    }

    @Test func float16SubnormalScaleClipsLikeCoremltools() throws {
        // 2·1e-5/254 rounds down to the smallest binary16 subnormal 2^-24, so 1e-5 / 2^-24
        // is 167.8 and must clip to 127.
        let bits = [Float(1e-5), 0, -1e-5, 5e-6].map(FloatConversion.float16Bits)
        let tensor = try quantize(float16Bits: bits, shape: [1, 4])
        #expect(tensor.scales == [0x1p-24])
        #expect(integers(tensor) == [127, 0, -127, 84])
    }

    @Test func linearModeZeroPointAndClip() throws {
        // scale = 2/255 rounds up in float32, so ±1/scale is just inside ±127.5;
        // zero point = round((−128·1 − 127·(−1)) / 2) = round(−0.5) = 0.
        let tensor = try quantize([-1, 1, 0.5, 0], shape: [1, 4], .init(mode: .linear))
        #expect(tensor.scales == [Float(2) / 255])
        #expect(tensor.zeroPoints == [0])
        #expect(integers(tensor) == [-127, 127, 64, 0])
    }

    @Test func allZeroChannelDequantizesToZeroInEveryMode() throws {
        for mode in LinearQuantizationConfig.Mode.allCases {
            for dtype in LinearQuantizationConfig.DType.allCases {
                let tensor = try quantize([0, 0, 0, 1, -2, 3], shape: [2, 3], .init(mode: mode, dtype: dtype))
                #expect(tensor.scales[0] == 1)
                let zeroPoint = tensor.zeroPoints.map { tensor.integer($0[0]) } ?? 0
                #expect(integers(tensor)[0..<3].allSatisfy { $0 == zeroPoint }, "\(mode) \(dtype)")
            }
        }
    }

    @Test func unsignedSymmetricUsesTheFixedZeroPoint() throws {
        let tensor = try quantize([1, -1, 0.5, 0], shape: [1, 4], .init(dtype: .uint8))
        #expect(tensor.zeroPoints == [127])
        #expect(integers(tensor) == [254, 0, 191, 127])
        let four = try quantize([1, -1, 0.5, 0], shape: [1, 4], .init(dtype: .uint4))
        #expect(four.zeroPoints == [7])
        #expect(integers(four) == [14, 0, 10, 7])
    }

    @Test func roundTripErrorIsAtMostHalfAScale() throws {
        var generator = SplitMix64(seed: 7)
        let shape = [64, 3, 3, 5]
        let weights = (0..<shape.reduce(1, *)).map { _ in Float(generator.normal()) * 0.02 }
        for config in [LinearQuantizationConfig(), .init(mode: .linear, dtype: .uint4),
                       .init(dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(1)),
                       .init(granularity: .perTensor)] {
            let tensor = try quantize(weights, shape: shape, config)
            let perBlock = weights.count / tensor.scales.count
            for (index, weight) in weights.enumerated() {
                let block = config.granularity == .perBlock ? index / 15 : index / perBlock
                let zeroPoint = tensor.zeroPoints.map { tensor.integer($0[block]) } ?? 0
                let restored = Float(tensor.integer(tensor.codes[index]) - zeroPoint) * tensor.scales[block]
                #expect(abs(restored - weight) <= tensor.scales[block] / 2 * 1.0001, "\(config) at \(index)")
            }
        }
    }

    @Test func perBlockScalesCoverBlocksAlongTheInputAxis() throws {
        // [2, 4] with blocks of 2 along axis 1: four blocks with maxima 2, 4, 8, 16.
        let tensor = try quantize([1, -2, 4, 3, 8, 1, 0, -16], shape: [2, 4],
                                  .init(granularity: .perBlock, blockSize: .alongInputAxis(2)))
        #expect(tensor.scaleShape == [2, 2])
        #expect(tensor.scales == [Float(4) / 254, Float(8) / 254, Float(16) / 254, Float(32) / 254])
        #expect(integers(tensor) == [64, -127, 127, 95, 127, 16, 0, -127])
    }

    @Test func perTensorUsesOneScale() throws {
        let tensor = try quantize([1, -2, 4, 3, 8, 1, 0, -16], shape: [2, 4], .init(granularity: .perTensor))
        #expect(tensor.scaleShape == [1, 1])
        #expect(tensor.scales == [Float(32) / 254])
    }

    @Test func rejectsNonFiniteWeightsAndBadBlockSizes() throws {
        #expect(throws: QuantCoreError.nonFiniteWeight) { try quantize([1, .infinity, 0, 0], shape: [2, 2]) }
        #expect(throws: QuantCoreError.nonFiniteWeight) { try quantize([1, 2, .nan, 0], shape: [2, 2]) }
        #expect(throws: QuantCoreError.blockSizeDoesNotDivide(axis: 1, dimension: 3, blockSize: 2)) {
            try quantize([1, 2, 3, 4, 5, 6], shape: [2, 3], .init(granularity: .perBlock, blockSize: .alongInputAxis(2)))
        }
        #expect(throws: QuantCoreError.scaleOverflow) {
            try quantize(float16Bits: [0x7BFF, 0], shape: [1, 2])
        }
    }
}

@Suite struct LinearQuantizerPrecisionTests {
    @Test func bfloat16ArithmeticRoundsTheQuotientToBFloat16() throws {
        // scale = bf16(2/254) = 0.00787353515625 and 0.79296875 / scale = 100.71, which is
        // 100.5 in bfloat16 and so rounds to 100, where float32 arithmetic would give 101.
        let bits = [Float(1), 0.79296875].map(FloatConversion.bfloat16Bits)
        let tensor = try bits.withUnsafeBytes { try LinearQuantizer().quantize($0, type: .bfloat16, shape: [1, 2]) }
        #expect(tensor.scaleType == .bfloat16)
        #expect(tensor.scales == [0.00787353515625])
        #expect(tensor.codes.map(tensor.integer) == [127, 100])
    }

    @Test func rawFloat32AndFloatBufferAgree() throws {
        var generator = SplitMix64(seed: 5)
        let weights = (0..<4096).map { _ in Float(generator.normal()) }
        let fromFloats = try weights.withUnsafeBufferPointer { try LinearQuantizer().quantize($0, shape: [64, 64]) }
        let fromBytes = try weights.withUnsafeBytes { try LinearQuantizer().quantize($0, type: .float32, shape: [64, 64]) }
        #expect(fromFloats == fromBytes)
    }

    @Test func float8AndFloat64UseFloat32Scales() throws {
        #expect(LinearQuantizer.scaleType(for: .float8E4M3) == .float32)
        #expect(LinearQuantizer.scaleType(for: .float64) == .float32)
        let bytes: [UInt8] = [0x38, 0xC2, 0x00, 0x7E]  // E4M3FN: 1, -2.5, 0, 448
        let tensor = try bytes.withUnsafeBytes { try LinearQuantizer().quantize($0, type: .float8E4M3, shape: [2, 2]) }
        #expect(tensor.scales == [Float(5) / 254, Float(896) / 254])
        #expect(tensor.codes.map(tensor.integer) == [51, -127, 0, 127])
    }

    @Test func rejectsWrongSizesAndIntegerTypes() {
        #expect(throws: QuantCoreError.sizeMismatch(expected: 8, actual: 6)) {
            try [UInt8](repeating: 0, count: 6).withUnsafeBytes { try LinearQuantizer().quantize($0, type: .float16, shape: [2, 2]) }
        }
        #expect(throws: QuantCoreError.notFloatingPoint(.int8)) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try LinearQuantizer().quantize($0, type: .int8, shape: [2, 2]) }
        }
    }
}
