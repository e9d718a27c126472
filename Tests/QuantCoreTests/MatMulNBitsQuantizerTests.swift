import Testing
@testable import QuantCore

/// Expected bytes were worked out by hand from MLAS' `BlockwiseQuantizer` (q4_dq.cpp) and
/// checked once against onnxruntime 1.23.2's `quantize_matmul_4bits`/`_8bits` bindings, which
/// `MatMulNBitsQuantizer` (Python) calls. The byte-for-byte comparison on random matrices
/// belongs to the Python oracle suite.
@Suite struct MatMulNBitsQuantizerTests {
    /// `[6, 2]`, row-major: columns [1, 0.5, −1, 2, 0.1, 0.3] and [−2, 3, 0.25, −0.75, 0.2, −0.4].
    static let weight: [Float] = [1.0, -2.0, 0.5, 3.0, -1.0, 0.25, 2.0, -0.75, 0.1, 0.2, 0.3, -0.4]

    static func quantize(_ values: [Float], k: Int, n: Int, bits: Int, blockSize: Int = 16,
                         symmetric: Bool, type: ScalarType = .float32) throws -> MatMulNBitsQuantizer.Result {
        var bytes = [UInt8](repeating: 0, count: values.count * type.byteWidth)
        try values.withUnsafeBufferPointer { values in
            try bytes.withUnsafeMutableBytes { try FloatConversion.encode(values, to: type, into: $0) }
        }
        let quantizer = try MatMulNBitsQuantizer(bits: bits, blockSize: blockSize, isSymmetric: symmetric)
        return try bytes.withUnsafeBytes { try quantizer.quantize($0, type: type, k: k, n: n) }
    }

    @Test func symmetricFourBitsMapsTheLargerMagnitudeToCodeZero() throws {
        // Column 0: extreme 2 → scale −2/8; 1 → round(1/−0.25 + 8) = 4, 0.5 → 6: byte 4 | 6 << 4.
        let result = try Self.quantize(Self.weight, k: 6, n: 2, bits: 4, symmetric: true)
        #expect(result.scales == [-0.25, -0.375])
        #expect(result.packed == [100, 12, 120, 0, 0, 0, 0, 0, 13, 167, 151, 0, 0, 0, 0, 0])
        #expect(result.zeroPoints == nil)
        #expect(result.blockCount == 1 && result.blobSize == 8)
    }

    @Test func asymmetricFourBitsPadsTheZeroPointByteWithEight() throws {
        // Column 0: range [−1, 2] → scale 3/15, zero point round(1/0.2) = 5, stored 5 | 8 << 4.
        let result = try Self.quantize(Self.weight, k: 6, n: 2, bits: 4, symmetric: false)
        #expect(result.scales == [0.2, Float(1) / 3])
        #expect(result.packed == [138, 240, 118, 0, 0, 0, 0, 0, 240, 71, 87, 0, 0, 0, 0, 0])
        #expect(result.zeroPoints == [133, 134])
    }

    @Test func symmetricEightBitsCentresOn128() throws {
        let result = try Self.quantize(Self.weight, k: 6, n: 2, bits: 8, symmetric: true)
        #expect(result.scales == [-0.015625, -0.0234375])
        #expect(Array(result.packed[0..<6]) == [64, 96, 192, 0, 122, 109])
        #expect(Array(result.packed[16..<22]) == [213, 0, 117, 160, 119, 145])
        #expect(result.packed.count == 32)
    }

    @Test func asymmetricEightBitsStoresOneZeroPointPerBlock() throws {
        let result = try Self.quantize(Self.weight, k: 6, n: 2, bits: 8, symmetric: false)
        #expect(result.scales == [Float(3) / 255, Float(5) / 255])
        #expect(Array(result.packed[0..<6]) == [170, 128, 0, 255, 94, 111])
        #expect(Array(result.packed[16..<22]) == [0, 255, 115, 64, 112, 82])
        #expect(result.zeroPoints == [85, 102])
    }

    @Test func oddKLeavesThePreviousPairsSecondCodeInTheLastHighNibble() throws {
        // Codes 12, 0, 10, 14, 4: the fifth shares its byte with a stale 14, as MLAS writes it.
        let result = try Self.quantize([1, -2, 0.5, 1.5, -1], k: 5, n: 1, bits: 4, symmetric: true)
        #expect(result.packed == [12, 234, 228, 0, 0, 0, 0, 0])
    }

    @Test func blocksAreScaledIndependentlyAndZeroPointsPackInPairs() throws {
        // K = 35 over blocks of 16: three blocks, the last holding three rows.
        let column = (0..<35).map { Float($0 - 10) / 8 }
        let symmetric = try Self.quantize(column, k: 35, n: 1, bits: 4, symmetric: true)
        #expect(symmetric.scales == [0.15625, -0.328125, -0.375])
        #expect(symmetric.packed == [16, 34, 67, 101, 118, 152, 170, 203, 86, 85, 68, 51, 35, 34, 17, 0,
                                     1, 0, 0, 0, 0, 0, 0, 0])
        let asymmetric = try Self.quantize(column, k: 35, n: 1, bits: 4, symmetric: false)
        #expect(asymmetric.scales == [0.125, 0.175, 0.2])
        #expect(asymmetric.zeroPoints == [10, 128])
        #expect(Array(asymmetric.packed[0..<18]) == [16, 50, 84, 118, 152, 186, 220, 254, 84, 102, 135, 153,
                                                     186, 203, 237, 254, 238, 239])
    }

    @Test func halfPrecisionScalesAreRoundedBeforeTheyDivide() throws {
        // Bit patterns 0x9D9A and 0x9F33: −max/128 rounded to F16.
        let weight: [Float] = [0.1, -0.3, 0.7, 0.2, -0.05, 0.9]
        let symmetric = try Self.quantize(weight, k: 3, n: 2, bits: 8, symmetric: true, type: .float16)
        #expect(symmetric.scales.map(FloatConversion.float16Bits) == [40346, 40755])
        #expect(Array(symmetric.packed[0..<3]) == [110, 0, 137])
        #expect(Array(symmetric.packed[16..<19]) == [171, 100, 0])
        let asymmetric = try Self.quantize(weight, k: 3, n: 2, bits: 8, symmetric: false, type: .float16)
        #expect(asymmetric.scales.map(FloatConversion.float16Bits) == [6662, 7378])
        #expect(asymmetric.zeroPoints == [17, 64])
        #expect(Array(asymmetric.packed[0..<3]) == [51, 255, 0])
    }

    @Test func anAllZeroBlockHasScaleZeroAndAsymmetricZeroPointZero() throws {
        let result = try Self.quantize([0, 0, 0, 0], k: 4, n: 1, bits: 4, symmetric: false)
        #expect(result.scales == [0])
        #expect(result.zeroPoints == [0x80])
        #expect(result.packed.allSatisfy { $0 == 0 })
    }

    @Test func unsupportedConfigurationsAreRefused() {
        #expect(throws: MatMulNBitsQuantizer.ConfigurationError.unsupportedBits(2)) {
            try MatMulNBitsQuantizer(bits: 2, blockSize: 32, isSymmetric: true)
        }
        #expect(throws: MatMulNBitsQuantizer.ConfigurationError.unsupportedBlockSize(48)) {
            try MatMulNBitsQuantizer(bits: 4, blockSize: 48, isSymmetric: true)
        }
    }

    @Test func integerWeightsAreRefused() throws {
        let quantizer = try MatMulNBitsQuantizer(bits: 4, blockSize: 16, isSymmetric: true)
        #expect(throws: QuantCoreError.unsupportedEncoding(.bfloat16)) {
            try [UInt8](repeating: 0, count: 8).withUnsafeBytes { try quantizer.quantize($0, type: .bfloat16, k: 2, n: 2) }
        }
    }
}
