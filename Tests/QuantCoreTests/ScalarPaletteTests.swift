import Testing
@testable import QuantCore

private func indices(_ palette: ScalarPalette, _ values: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { values in
        out.withUnsafeMutableBufferPointer { palette.assign(values.baseAddress!, count: values.count, into: $0.baseAddress!) }
    }
    return out
}

@Suite struct ScalarPaletteTests {
    @Test func nearestEntryWithTiesGoingLow() {
        let palette = ScalarPalette.nearest([-1, 0, 2], entries: 4)
        #expect(palette.lut == [-1, 0, 2, 0])
        // -0.5 and 1 are midpoints: argmin keeps the first (lower) entry.
        #expect(indices(palette, [-3, -0.5, -0.4, 1, 1.01, 50]) == [0, 0, 1, 1, 2, 2])
    }

    @Test func everyBitWidthSearchesAllEntries() {
        for nbits in PalettizationConfig.supportedBitWidths {
            let entries = 1 << nbits
            let palette = ScalarPalette.nearest((0..<entries).map(Float.init), entries: entries)
            let values = (0..<entries).map { Float($0) + 0.25 }
            #expect(indices(palette, values) == (0..<entries).map(UInt8.init), "nbits \(nbits)")
        }
    }

    @Test func tableAgreesWithSearch() {
        let palette = ScalarPalette.nearest([-0.5, -0.01, 0, 0.003, 0.7], entries: 8)
        let table = palette.table(for: .float16)
        for bits in stride(from: 0, to: 1 << 16, by: 7) {
            let value = FloatConversion.float(float16Bits: UInt16(bits))
            guard value.isFinite else { continue }
            #expect(table[bits] == indices(palette, [value])[0])
        }
    }
}
