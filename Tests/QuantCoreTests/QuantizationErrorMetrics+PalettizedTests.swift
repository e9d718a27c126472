import Foundation
import Testing
@testable import QuantCore

/// A palettization's error summed over the distinct values the palettizer counted is the error
/// of comparing its dense reconstruction element by element; forms without those counts are
/// compared element by element.
@Suite struct QuantizationErrorMetricsPalettizedTests {
    /// Little-endian weights of `type` drawn from a normal distribution, and their shape.
    static func weights(_ type: ScalarType, count: Int = 64 * 96, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        let values = (0..<count).map { _ in Float(random.normal() * 0.05) }
        var bytes = [UInt8](repeating: 0, count: count * type.byteWidth)
        bytes.withUnsafeMutableBytes { out in
            values.withUnsafeBufferPointer { try! FloatConversion.encode($0, to: type, into: out) }
        }
        return bytes
    }

    static func expectEqual(_ a: QuantizationErrorMetrics, _ b: QuantizationErrorMetrics, _ what: String) {
        #expect(abs(a.sqnrDB - b.sqnrDB) < 1e-9, "\(what): \(a.sqnrDB) vs \(b.sqnrDB)")
        #expect(abs(a.cosine - b.cosine) < 1e-12, "\(what): \(a.cosine) vs \(b.cosine)")
        #expect(a.maxAbsError == b.maxAbsError, "\(what)")
        #expect(a.sparsity == b.sparsity, "\(what)")
    }

    static func dense(_ bytes: [UInt8], _ type: ScalarType, _ p: PalettizedTensor) -> QuantizationErrorMetrics {
        bytes.withUnsafeBytes { b in
            p.dequantized().withUnsafeBufferPointer { QuantizationErrorMetrics(original: b, type: type, reconstructed: $0) }
        }
    }

    @Test(arguments: [
        (ScalarType.float16, PalettizationConfig(mode: .kmeans, nbits: 4)),
        (.float16, PalettizationConfig(mode: .uniform, nbits: 3)),
        (.bfloat16, PalettizationConfig(mode: .kmeans, nbits: 6)),
    ])
    func oneScalarLUTSumsOverDistinctValues(type: ScalarType, config: PalettizationConfig) throws {
        let bytes = Self.weights(type, seed: 41)
        let p = try bytes.withUnsafeBytes { try Palettizer(config).palettize($0, type: type, shape: [64, 96]) }
        #expect(p.valueCounts != nil, "one scalar LUT over 16-bit weights keeps its value counts")
        let summed = bytes.withUnsafeBytes { QuantizationErrorMetrics(original: $0, type: type, palettized: p) }
        Self.expectEqual(summed, Self.dense(bytes, type, p), "\(type) \(config.mode)")
        #expect(summed.sqnrDB > 5 && summed.sqnrDB.isFinite)
    }

    /// A LUT replaced after palettizing (as joint LUT quantization does) is measured as stored,
    /// a zero entry counting its elements as zeros.
    @Test func aReplacedLUTIsMeasuredAsStored() throws {
        let bytes = Self.weights(.float16, seed: 42)
        let p = try bytes.withUnsafeBytes { try Palettizer(PalettizationConfig(nbits: 4)).palettize($0, type: .float16, shape: [64, 96]) }
        var lut = p.lut.map { $0 * 1.01 }
        lut[lut.indices.min { abs(lut[$0]) < abs(lut[$1]) }!] = 0
        let replaced = p.replacingLUT(lut)
        let summed = bytes.withUnsafeBytes { QuantizationErrorMetrics(original: $0, type: .float16, palettized: replaced) }
        Self.expectEqual(summed, Self.dense(bytes, .float16, replaced), "replaced LUT")
        #expect(summed.sparsity > 0)
        let original = bytes.withUnsafeBytes { QuantizationErrorMetrics(original: $0, type: .float16, palettized: p) }
        #expect(summed.sqnrDB < original.sqnrDB, "the replaced LUT is what is measured")
    }

    /// Grouped LUTs, per-channel scales and float32 weights carry no counts: compared densely.
    @Test(arguments: [
        (ScalarType.float16, PalettizationConfig(mode: .kmeans, nbits: 2, granularity: .perGroupedChannel, groupSize: 16)),
        (.float16, PalettizationConfig(mode: .kmeans, nbits: 4, enablePerChannelScale: true)),
        (.float32, PalettizationConfig(mode: .kmeans, nbits: 4)),
    ])
    func otherFormsAreComparedElementByElement(type: ScalarType, config: PalettizationConfig) throws {
        let bytes = Self.weights(type, seed: 43)
        let p = try bytes.withUnsafeBytes { try Palettizer(config).palettize($0, type: type, shape: [64, 96]) }
        let measured = bytes.withUnsafeBytes { QuantizationErrorMetrics(original: $0, type: type, palettized: p) }
        Self.expectEqual(measured, Self.dense(bytes, type, p), "\(type) \(config.granularity)")
    }
}
