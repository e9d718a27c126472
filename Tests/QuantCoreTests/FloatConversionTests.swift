import Testing
@testable import QuantCore

@Suite struct FloatConversionTests {
    @Test func everyFloat16BitPatternRoundTrips() {
        for bits in UInt16.min...UInt16.max {
            let value = FloatConversion.float(float16Bits: bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN {
                #expect(value.isNaN)
                #expect(FloatConversion.float16Bits(value) & 0x7E00 == 0x7E00, "NaN \(bits) stays a quiet NaN")
            } else {
                #expect(value.bitPattern == reference.bitPattern, "decode \(bits)")
                #expect(FloatConversion.float16Bits(value) == bits, "encode \(bits)")
            }
        }
    }

    @Test func float16EncodingRoundsHalfToEvenAndSaturates() {
        // 1 + 2^-11 lies halfway between 1 and the next binary16 1 + 2^-10: ties go to even (1).
        #expect(FloatConversion.float16Bits(1 + 0x1p-11) == 0x3C00)
        // 1 + 3·2^-11 lies halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
        #expect(FloatConversion.float16Bits(1 + 3 * 0x1p-11) == 0x3C02)
        #expect(FloatConversion.float16Bits(1 + 0x1p-11 + 0x1p-20) == 0x3C01)
        #expect(FloatConversion.float16Bits(65504) == 0x7BFF)
        #expect(FloatConversion.float16Bits(65519.99) == 0x7BFF)
        #expect(FloatConversion.float16Bits(65520) == 0x7C00)
        #expect(FloatConversion.float16Bits(-.infinity) == 0xFC00)
        // Halfway between 0 and the smallest subnormal 2^-24 rounds to even (0); above it, up.
        #expect(FloatConversion.float16Bits(0x1p-25) == 0x0000)
        #expect(FloatConversion.float16Bits(0x1.8p-25) == 0x0001)
        #expect(FloatConversion.float16Bits(-3 * 0x1p-25) == 0x8002)
    }

    @Test func float16EncodingMatchesSwiftFloat16OnRandomFloats() {
        var generator = SplitMix64(seed: 3)
        for _ in 0..<200_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            guard !value.isNaN else { continue }
            #expect(FloatConversion.float16Bits(value) == Float16(value).bitPattern, "\(value)")
        }
    }

    @Test func bfloat16RoundsHalfwayCasesToEven() {
        // 1 + 2^-8 is halfway between bfloat16 1 (0x3F80, even) and 1 + 2^-7 (0x3F81).
        #expect(FloatConversion.bfloat16Bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2^-8 is halfway between 0x3F81 (odd) and 0x3F82 (even).
        #expect(FloatConversion.bfloat16Bits(1 + 3 * 0x1p-8) == 0x3F82)
        #expect(FloatConversion.bfloat16Bits(1 + 0x1p-8 + 0x1p-20) == 0x3F81)
        #expect(FloatConversion.bfloat16Bits(.greatestFiniteMagnitude) == 0x7F80)
        #expect(FloatConversion.bfloat16Bits(-.infinity) == 0xFF80)
        #expect(FloatConversion.float(bfloat16Bits: FloatConversion.bfloat16Bits(.nan)).isNaN)
        #expect(FloatConversion.float(bfloat16Bits: 0xC0A0) == -5)
    }

    @Test func float8E4M3FNDecodesKnownValues() {
        #expect(FloatConversion.float(float8E4M3Bits: 0x38) == 1)
        #expect(FloatConversion.float(float8E4M3Bits: 0x7E) == 448)
        #expect(FloatConversion.float(float8E4M3Bits: 0xFE) == -448)
        #expect(FloatConversion.float(float8E4M3Bits: 0x01) == 0x1p-9)
        #expect(FloatConversion.float(float8E4M3Bits: 0x08) == 0x1p-6)
        #expect(FloatConversion.float(float8E4M3Bits: 0x3C) == 1.5)
        #expect(FloatConversion.float(float8E4M3Bits: 0x7F).isNaN)
        #expect(FloatConversion.float(float8E4M3Bits: 0xFF).isNaN)
        // The fn variant has no infinities: exponent 15 with mantissa below 7 is finite.
        #expect(FloatConversion.float(float8E4M3Bits: 0x78) == 256)
    }

    @Test func float8E5M2DecodesKnownValues() {
        #expect(FloatConversion.float(float8E5M2Bits: 0x3C) == 1)
        #expect(FloatConversion.float(float8E5M2Bits: 0x7B) == 57344)
        #expect(FloatConversion.float(float8E5M2Bits: 0x7C) == .infinity)
        #expect(FloatConversion.float(float8E5M2Bits: 0xFC) == -.infinity)
        #expect(FloatConversion.float(float8E5M2Bits: 0x7D).isNaN)
        #expect(FloatConversion.float(float8E5M2Bits: 0x01) == 0x1p-16)
        #expect(FloatConversion.float(float8E5M2Bits: 0xC2) == -3)
    }

    @Test func bulkDecodeReadsEveryTypeLittleEndian() throws {
        let cases: [(ScalarType, [UInt8], [Float])] = [
            (.float64, [0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0x04, 0xC0], [1, -2.5]),
            (.float32, [0, 0, 0x80, 0x3F, 0, 0, 0x20, 0xC0], [1, -2.5]),
            (.float16, [0x00, 0x3C, 0x00, 0xC1], [1, -2.5]),
            (.bfloat16, [0x80, 0x3F, 0x20, 0xC0], [1, -2.5]),
            (.float8E4M3, [0x38, 0xC2], [1, -2.5]),
            (.float8E5M2, [0x3C, 0xC1], [1, -2.5]),
        ]
        for (type, bytes, expected) in cases {
            var decoded = [Float](repeating: 0, count: expected.count)
            try bytes.withUnsafeBytes { raw in
                try decoded.withUnsafeMutableBufferPointer { try FloatConversion.decode(raw, from: type, into: $0) }
            }
            #expect(decoded == expected, "\(type)")
        }
    }

    @Test func bulkDecodeOfLargeBuffersMatchesScalarDecode() throws {
        let bits = (0..<300_000).map { UInt16(truncatingIfNeeded: $0 &* 2_654_435_761) }
        var decoded = [Float](repeating: 0, count: bits.count)
        try bits.withUnsafeBytes { raw in
            try decoded.withUnsafeMutableBufferPointer { try FloatConversion.decode(raw, from: .float16, into: $0) }
        }
        for (index, value) in decoded.enumerated() {
            #expect(value.bitPattern == FloatConversion.float(float16Bits: bits[index]).bitPattern)
        }
    }

    @Test func encodeWritesLittleEndianAndRejectsOtherTypes() throws {
        let values: [Float] = [1, -2.5]
        for (type, expected) in [(ScalarType.float32, [0, 0, 0x80, 0x3F, 0, 0, 0x20, 0xC0] as [UInt8]),
                                 (.float16, [0x00, 0x3C, 0x00, 0xC1]), (.bfloat16, [0x80, 0x3F, 0x20, 0xC0])] {
            var bytes = [UInt8](repeating: 0, count: expected.count)
            try values.withUnsafeBufferPointer { source in
                try bytes.withUnsafeMutableBytes { try FloatConversion.encode(source, to: type, into: $0) }
            }
            #expect(bytes == expected, "\(type)")
        }
        var bytes = [UInt8](repeating: 0, count: 2)
        #expect(throws: QuantCoreError.unsupportedEncoding(.int8)) {
            try values.withUnsafeBufferPointer { source in
                try bytes.withUnsafeMutableBytes { try FloatConversion.encode(source, to: .int8, into: $0) }
            }
        }
        #expect(throws: QuantCoreError.notFloatingPoint(.int32)) {
            var out = [Float](repeating: 0, count: 1)
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { raw in
                try out.withUnsafeMutableBufferPointer { try FloatConversion.decode(raw, from: .int32, into: $0) }
            }
        }
    }
}

@Suite struct VectorFloat16DecodeTests {
    /// The 8-lane decode must agree bit for bit with the scalar one on every pattern.
    @Test func everyBitPatternMatchesTheScalarDecode() {
        for start in stride(from: 0, to: 65536, by: 8) {
            let bits = SIMD8<UInt16>((0..<8).map { UInt16(start + $0) })
            let vector = FloatConversion.float(float16Bits: bits)
            for k in 0..<8 {
                let scalar = FloatConversion.float(float16Bits: bits[k])
                #expect(vector[k].bitPattern == scalar.bitPattern || (vector[k].isNaN && scalar.isNaN), "0x\(String(bits[k], radix: 16))")
            }
        }
    }
}
