/// One group's scalar LUT and the rule that maps a weight to one of its entries.
enum ScalarPalette {
    /// Ascending entries (padded with zeros to `2^nbits`); a weight takes the nearest one, the
    /// lower on a tie as `argmin` does. `thresholds[i]` is the midpoint between entries `i` and
    /// `i + 1`, +∞ past the last used entry, so an index is the count of thresholds below the weight.
    case nearest(lut: [Float], thresholds: [Double])
    /// coremltools' uniform formula.
    case uniform(UniformPalette)

    /// A palette of `sorted` (at most `entries` ascending values) padded to `entries`.
    static func nearest(_ sorted: [Float], entries: Int) -> ScalarPalette {
        var thresholds = [Double](repeating: .infinity, count: entries - 1)
        for index in 0..<max(sorted.count - 1, 0) {
            thresholds[index] = (Double(sorted[index]) + Double(sorted[index + 1])) / 2
        }
        return .nearest(lut: sorted + [Float](repeating: 0, count: entries - sorted.count), thresholds: thresholds)
    }

    var lut: [Float] {
        switch self {
        case .nearest(let lut, _): lut
        case .uniform(let palette): palette.lut
        }
    }

    /// The index of every 16-bit pattern of `type` (F16 or BF16), so that assigning a large
    /// group is one table load per weight; non-finite patterns map to 0 and never occur.
    func table(for type: ScalarType) -> [UInt8] {
        var table = [UInt8](repeating: 0, count: 1 << 16)
        switch self {
        case .nearest(_, let thresholds):
            // In value order (order keys ascending) the count of thresholds below the value
            // only grows: one sweep gives every pattern the index `assign` would, without a
            // search per pattern.
            var position = 0
            for key in Int32(-32768)...Int32(32767) {
                let bits = OrderKey.bits16(key)
                let value = FloatConversion.float(bits: bits, of: type)
                guard value.isFinite else { continue }
                while position < thresholds.count && thresholds[position] < Double(value) { position += 1 }
                table[Int(bits)] = UInt8(truncatingIfNeeded: position)
            }
        case .uniform:
            let values = (0..<(1 << 16)).map { bits in
                let value = FloatConversion.float(bits: UInt16(bits), of: type)
                return value.isFinite ? value : 0
            }
            values.withUnsafeBufferPointer { values in
                table.withUnsafeMutableBufferPointer { table in
                    assign(values.baseAddress!, count: values.count, into: table.baseAddress!)
                }
            }
        }
        return table
    }

    func assign(_ values: UnsafePointer<Float>, count: Int, into indices: UnsafeMutablePointer<UInt8>) {
        switch self {
        case .nearest(_, let thresholds):
            thresholds.withUnsafeBufferPointer { thresholds in
                let t = thresholds.baseAddress!
                // thresholds.count + 1 is a power of two, so halving steps reach every count.
                let top = (thresholds.count + 1) / 2
                for index in 0..<count {
                    let value = Double(values[index])
                    var position = 0
                    var step = top
                    while step > 0 {
                        position &+= t[position &+ step &- 1] < value ? step : 0
                        step >>= 1
                    }
                    indices[index] = UInt8(truncatingIfNeeded: position)
                }
            }
        case .uniform(let palette):
            for index in 0..<count { indices[index] = palette.index(of: values[index]) }
        }
    }
}
