import CQuantKernels
import Foundation
import Testing
@testable import QuantCore

/// The AVX2 kernels against the portable Swift loops they replace, element for element.
@Suite(.enabled(if: VectorKernels.isAvailable, "this CPU has no AVX2/F16C/FMA; the Swift loops run instead"))
struct VectorKernelsTests {
    /// Normal weights, exact ties of the scale (x.5 quotients) and a few outliers.
    private func weights(count: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { index in
            switch index % 7 {
            case 3: Float(Int(generator.next() % 20)) - 9.5
            case 5: Float(generator.normal()) * 40
            default: Float(generator.normal()) * 3
            }
        }
    }

    private static let blocks = [
        BlockQuantization(scale: 0.25, lower: -127, upper: 127, zeroPoint: 0),
        BlockQuantization(scale: 1, lower: -7, upper: 7, zeroPoint: 0),
        BlockQuantization(scale: 0.1, lower: -100, upper: 155, zeroPoint: 100),
        BlockQuantization(scale: 3, lower: -127, upper: 127, zeroPoint: 127),
    ]

    @Test(arguments: blocks)
    func float32CodesEqualTheSwiftLoop(block: BlockQuantization) throws {
        let values = weights(count: 1003, seed: 1)
        for float16Quotient in [false, true] {
            let kernelCodes = values.withUnsafeBytes { raw in
                [UInt8](unsafeUninitializedCapacity: values.count) { codes, initialized in
                    let kernels = VectorKernels(element: QK_FLOAT32, base: raw.baseAddress!)!
                    let done = kernels.codes(offset: 0, count: values.count, block: block,
                                             float16Quotient: float16Quotient, into: codes.baseAddress!)
                    #expect(done == 1000)
                    initialized = done
                }
            }
            let expected = values.prefix(1000).map {
                float16Quotient ? block.code($0, Float16Quotient.self) : block.code($0, Float32Quotient.self)
            }
            #expect(kernelCodes == expected)
        }
    }

    @Test(arguments: blocks)
    func float16CodesEqualTheSwiftLoop(block: BlockQuantization) {
        let bits = weights(count: 4096, seed: 2).map { FloatConversion.float16Bits($0) }
        let source = bits.withUnsafeBytes { Array($0) }
        source.withUnsafeBytes { raw in
            let kernels = VectorKernels(element: QK_FLOAT16, base: raw.baseAddress!)!
            var codes = [UInt8](repeating: 0, count: bits.count)
            // From an odd offset, as a row of a larger tensor would start.
            let done = codes.withUnsafeMutableBufferPointer {
                kernels.codes(offset: 8, count: 4088, block: block, float16Quotient: true, into: $0.baseAddress!)
            }
            #expect(done == 4088)
            let expected = bits[8...].map { block.code(FloatConversion.float(float16Bits: $0), Float16Quotient.self) }
            #expect(Array(codes[8...]) == expected)
        }
    }

    @Test func extremesEqualTheOrderKeysOfTheSwiftLoop() {
        let values = weights(count: 777, seed: 3) + [-0.0, 0.0, -0x1p-133]  // a negative float32 subnormal
        let halfBits = values.map { FloatConversion.float16Bits($0) }
        for (element, bytes, keys) in [
            (QK_FLOAT32, values.withUnsafeBytes { Array($0) }, values.map { OrderKey.of32($0.bitPattern) }),
            (QK_FLOAT16, halfBits.withUnsafeBytes { Array($0) }, halfBits.map(OrderKey.of16)),
        ] {
            bytes.withUnsafeBytes { raw in
                let kernels = VectorKernels(element: element, base: raw.baseAddress!)!
                var low = Int32.max, high = Int32.min
                kernels.orderKeyExtremes(offset: 5, count: keys.count - 5, low: &low, high: &high)
                #expect(low == keys.dropFirst(5).min())
                #expect(high == keys.dropFirst(5).max())
            }
        }
    }

    @Test func measureSumsWhatTheCodesReconstruct() {
        let values = weights(count: 1024, seed: 4)
        let block = BlockQuantization(scale: 0.5, lower: -128, upper: 127, zeroPoint: 0)
        let codes = values.map { block.code($0, Float32Quotient.self) }
        var lanes = qk_lanes()
        let done = values.withUnsafeBytes { raw in
            VectorKernels(element: QK_FLOAT32, base: raw.baseAddress!)!.measure(
                offset: 0, count: 1021, codes: codes, scale: 0.5, zeroPoint: 0, signed: true, lanes: &lanes)
        }
        #expect(done == 1016)
        var signal = 0.0, noise = 0.0, zeros = 0.0, worst = 0.0
        for i in 0..<done {
            let w = Double(values[i]), r = Double(Int8(bitPattern: codes[i])) * 0.5
            signal += w * w
            noise += (w - r) * (w - r)
            zeros += r == 0 ? 1 : 0
            worst = max(worst, (w - r) * (w - r))
        }
        let sums = withUnsafeBytes(of: lanes) { Array($0.bindMemory(to: Float.self)) }
        let lane = { (field: Int) in sums[(field * 8)..<(field * 8 + 8)] }
        #expect(abs(Double(lane(0).reduce(0, +)) - signal) < signal * 1e-5)
        #expect(abs(Double(lane(1).reduce(0, +)) - noise) < noise * 1e-5)
        #expect(abs(Double(lane(4).max()!) - worst) <= worst * 1e-6)
        #expect(Double(lane(5).reduce(0, +)) == zeros)
    }

    /// The kernels divide by multiplying with the reciprocal and correcting with FMA; over
    /// every finite float16 weight and scales as real blocks produce them (float16-rounded
    /// max/127 and max/7 of random maxima), the codes equal those of true division.
    @Test func reciprocalDivisionEqualsDivisionForEveryFloat16Weight() {
        let bits = (0..<UInt16.max).filter { $0 & 0x7C00 != 0x7C00 }
        let source = bits.withUnsafeBytes { Array($0) }
        var generator = SplitMix64(seed: 5)
        var scales: [(Float, Float)] = []
        for _ in 0..<24 {
            let maximum = Float(Double.random(in: -20...8, using: &generator)).exp2ed
            for levels: Float in [127, 7] {
                let span = FloatConversion.float(float16Bits: FloatConversion.float16Bits(2 * maximum))
                scales.append((FloatConversion.float(float16Bits: FloatConversion.float16Bits(span / (2 * levels))), levels))
            }
        }
        source.withUnsafeBytes { raw in
            let kernels = VectorKernels(element: QK_FLOAT16, base: raw.baseAddress!)!
            for (scale, levels) in scales {
                let block = BlockQuantization(scale: scale, lower: -levels, upper: levels, zeroPoint: 0)
                var codes = [UInt8](repeating: 0, count: bits.count)
                let done = codes.withUnsafeMutableBufferPointer {
                    kernels.codes(offset: 0, count: bits.count, block: block, float16Quotient: true, into: $0.baseAddress!)
                }
                // Only weights a block with this scale can hold: its extremes set the scale, and
                // the kernels (like the Swift vector loop) round before clamping.
                var compared = 0, mismatches = 0
                for index in 0..<done {
                    let weight = FloatConversion.float(float16Bits: bits[index])
                    guard abs(weight) <= (levels + 1) * scale else { continue }
                    compared += 1
                    if codes[index] != block.code(weight, Float16Quotient.self) { mismatches += 1 }
                }
                #expect(compared > 100)
                #expect(mismatches == 0, "scale \(scale): \(mismatches) of \(compared) codes differ")
            }
        }
    }

    @Test func reciprocalDivisionEqualsDivisionForFloat32Weights() {
        var generator = SplitMix64(seed: 6)
        let values = (0..<200_000).map { _ in Float(generator.normal()) * 0.05 }
        values.withUnsafeBytes { raw in
            let kernels = VectorKernels(element: QK_FLOAT32, base: raw.baseAddress!)!
            for _ in 0..<8 {
                let scale = Float(Double.random(in: 0.0001...0.01, using: &generator))
                let block = BlockQuantization(scale: scale, lower: -127, upper: 127, zeroPoint: 0)
                var codes = [UInt8](repeating: 0, count: values.count)
                _ = codes.withUnsafeMutableBufferPointer {
                    kernels.codes(offset: 0, count: values.count, block: block, float16Quotient: false, into: $0.baseAddress!)
                }
                #expect(codes == values.map { block.code($0, Float32Quotient.self) })
            }
        }
    }
}

private extension Float {
    /// 2 to the power of this value.
    var exp2ed: Float { Float(Foundation.exp2(Double(self))) }
}
