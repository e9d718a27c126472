import Testing
@testable import QuantCore

/// Expected scales are bit patterns computed outside quantd: onnxruntime's with its own
/// `compute_scale_zp(np.float32(min), np.float32(max), *get_qmin_qmax_for_qType(qtype, symmetric=…), symmetric)`
/// (onnxruntime 1.23.2), coremltools' by redoing its float16 steps in numpy
/// (`np.float16(np.float16(max - min) / np.float16(qmax - qmin))`, each operand a float16).
@Suite struct ActivationQuantizationParametersTests {
    typealias P = ActivationQuantizationParameters

    static func config(_ dtype: ActivationQuantizationConfig.DType, _ mode: LinearQuantizationConfig.Mode) -> ActivationQuantizationConfig.OpConfig {
        .init(dtype: dtype, mode: mode)
    }

    @Test func onnxRuntimeAsymmetricWidensTheRangeToZero() {
        let uint8 = P.onnxRuntime(min: -1.3, max: 2.1, Self.config(.uint8, .linear))
        #expect(uint8 == P(dtype: .uint8, scale: Float(bitPattern: 0x3c5a_740d), zeroPoint: 98))
        let int8 = P.onnxRuntime(min: -1.3, max: 2.1, Self.config(.int8, .linear))
        #expect(int8 == P(dtype: .int8, scale: Float(bitPattern: 0x3c5a_740d), zeroPoint: -30))
        // All-positive and all-negative ranges gain 0 as an end.
        #expect(P.onnxRuntime(min: 0.5, max: 3, Self.config(.uint8, .linear)) == P(dtype: .uint8, scale: Float(bitPattern: 0x3c40_c0c1), zeroPoint: 0))
        #expect(P.onnxRuntime(min: -3, max: -0.5, Self.config(.int8, .linear)) == P(dtype: .int8, scale: Float(bitPattern: 0x3c40_c0c1), zeroPoint: 127))
    }

    @Test func onnxRuntimeSymmetricUsesTheMiddleCode() {
        let int8 = P.onnxRuntime(min: -1.3, max: 2.1, Self.config(.int8, .linearSymmetric))
        #expect(int8 == P(dtype: .int8, scale: Float(bitPattern: 0x3c87_7551), zeroPoint: 0))
        let uint8 = P.onnxRuntime(min: -1.3, max: 2.1, Self.config(.uint8, .linearSymmetric))
        #expect(uint8 == P(dtype: .uint8, scale: Float(bitPattern: 0x3c87_7551), zeroPoint: 127))
    }

    @Test func onnxRuntimeZeroPointsRoundHalfToEven() {
        // 0 - (-2.5)/1 = 2.5 and 1.5 round to 2; 0 - (-0.5)/(1/255) = 127.5 rounds to 128.
        #expect(P.onnxRuntime(min: -2.5, max: 252.5, Self.config(.uint8, .linear)).zeroPoint == 2)
        #expect(P.onnxRuntime(min: -1.5, max: 253.5, Self.config(.uint8, .linear)).zeroPoint == 2)
        let half = P.onnxRuntime(min: -0.5, max: 0.5, Self.config(.uint8, .linear))
        #expect(half == P(dtype: .uint8, scale: Float(bitPattern: 0x3b80_8081), zeroPoint: 128))
    }

    @Test func onnxRuntimeTinyOrEmptyRangesGiveScaleOne() {
        #expect(P.onnxRuntime(min: 0, max: 0, Self.config(.uint8, .linear)) == P(dtype: .uint8, scale: 1, zeroPoint: 0))
        #expect(P.onnxRuntime(min: 1e-40, max: 1e-39, Self.config(.int8, .linear)) == P(dtype: .int8, scale: 1, zeroPoint: 0))
        // onnxruntime's zero point is 0 here even for uint8 symmetric, whose middle code is 127.
        #expect(P.onnxRuntime(min: 0, max: 0, Self.config(.uint8, .linearSymmetric)) == P(dtype: .uint8, scale: 1, zeroPoint: 0))
    }

    @Test func onnxRuntimeNonFiniteRangesDoNotTrap() {
        #expect(P.onnxRuntime(min: -.infinity, max: 1, Self.config(.uint8, .linear)) == P(dtype: .uint8, scale: 1, zeroPoint: 0))
        #expect(P.onnxRuntime(min: .nan, max: .nan, Self.config(.int8, .linearSymmetric)) == P(dtype: .int8, scale: 1, zeroPoint: 0))
    }

    @Test func coreMLInt8SymmetricIsFloat16Arithmetic() {
        // np.float16(np.float16(2 * np.float16(2.1)) / np.float16(254)) = 0x3c876000 as float32.
        let p = P.coreML(min: -1.3, max: 2.1, Self.config(.int8, .linearSymmetric))
        #expect(p == P(dtype: .int8, scale: Float(bitPattern: 0x3c87_6000), zeroPoint: 0))
    }

    @Test func coreMLUInt8LinearZeroPointIsFloat16Arithmetic() {
        // scale np.float16(np.float16(2.1 - -1.3) / 255) = 0x3c5a6000; zero point
        // np.float16((0·max − 255·min) / width) = 97.56, rounded to 98.
        let p = P.coreML(min: -1.3, max: 2.1, Self.config(.uint8, .linear))
        #expect(p == P(dtype: .uint8, scale: Float(bitPattern: 0x3c5a_6000), zeroPoint: 98))
    }
}
