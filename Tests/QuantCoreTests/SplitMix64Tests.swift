import Foundation
import Testing
@testable import QuantCore

@Suite("SplitMix64")
struct SplitMix64Tests {
    // QuantCore's generator, not this module's test helper of the same name.
    typealias Generator = QuantCore.SplitMix64

    @Test("the published SplitMix64 stream: seed 0 gives 0xE220A8397B1DCDAF first, and unit() its top 53 bits (k-means++ seeding reads these)")
    func knownStream() {
        var generator = Generator(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
        var again = Generator(seed: 0)
        #expect(again.unit() == 0.8833108082136426)
    }

    @Test("normal draws have mean ≈ 0 and variance ≈ 1, and the same seed repeats them")
    func normalDraws() {
        var a = Generator(seed: 42), b = Generator(seed: 42)
        let draws = (0..<20_000).map { _ in a.normal() }
        #expect(draws == (0..<20_000).map { _ in b.normal() })
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1) < 0.05)
        #expect(draws.allSatisfy { $0.isFinite })
    }
}
