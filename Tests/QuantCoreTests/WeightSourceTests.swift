import Testing
@testable import QuantCore

@Suite struct WeightSourceTests {
    @Test func float32OrderKeysSortLikeValuesWithNaNOutside() {
        let values: [Float] = [-.infinity, -3, -0x1p-149, -0.0, 0, 0x1p-149, 1, .greatestFiniteMagnitude, .infinity]
        let keys = values.map { OrderKey.of32($0.bitPattern) }
        #expect(keys == keys.sorted())
        #expect(Set(keys).count == keys.count)
        #expect(OrderKey.of32(Float.nan.bitPattern) > OrderKey.of32(Float.infinity.bitPattern))
        #expect(OrderKey.of32((-Float.nan).bitPattern) < OrderKey.of32((-Float.infinity).bitPattern))
        for value in values { #expect(OrderKey.bits32(OrderKey.of32(value.bitPattern)) == value.bitPattern) }
    }

    @Test func float16OrderKeysSortEveryNonNaNPatternByValue() {
        let patterns = (UInt16.min...UInt16.max).filter { !FloatConversion.float(float16Bits: $0).isNaN }
        let byKey = patterns.sorted { OrderKey.of16($0) < OrderKey.of16($1) }
        let values = byKey.map { FloatConversion.float(float16Bits: $0) }
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 })
        for bits in patterns { #expect(OrderKey.bits16(OrderKey.of16(bits)) == bits) }
    }

    @Test func sourcesReadUnalignedLittleEndianElements() {
        // One leading byte misaligns every element.
        let bytes: [UInt8] = [0xAA, 0x00, 0x3C, 0x00, 0xC1]
        bytes.withUnsafeBytes { raw in
            let source = Float16Source(base: raw.baseAddress! + 1)
            #expect(source[0] == 1 && source[1] == -2.5)
            #expect(source.value(ofOrderKey: source.orderKey(at: 1)) == -2.5)
        }
    }
}
