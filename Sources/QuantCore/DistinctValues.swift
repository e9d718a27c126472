import Foundation

/// How much each element's squared error counts when errors are measured on the stored
/// weight: 1, or with per-channel scales the square of the element's scale, which multiplies
/// its error once the scale is applied back.
struct ElementWeights {
    /// Squared scale per position `(o, i)` of the axes other than the channel axis.
    let squares: UnsafeBufferPointer<Double>
    let channels: Int
    let inner: Int

    @inline(__always) func weight(ofElement element: Int) -> Double {
        squares[element / (channels * inner) * inner + element % inner]
    }
}

/// The distinct values among some weights, ascending, each with its total weight (how often it
/// occurs, times `ElementWeights` if given): the weighted points that 1-D k-means and unique
/// palettization work on.
///
/// −0 and +0 are one value, stored as +0, as `np.unique` merges them.
struct DistinctValues: Sendable, Equatable {
    var values: [Float]
    var weights: [Double]

    var count: Int { values.count }

    /// Below this many elements sorting their keys beats sweeping a 65536-bin histogram.
    static let histogramThreshold = 1 << 14

    /// The distinct values in `ranges` of `bits`, finite F16 or BF16 (`type`) bit patterns.
    /// A single range (the whole tensor) is histogrammed on all cores when `parallel`.
    init(bits: UnsafePointer<UInt16>, ranges: [Range<Int>], type: ScalarType, parallel: Bool,
         elementWeights: ElementWeights? = nil) {
        let total = ranges.reduce(0) { $0 + $1.count }
        var values: [Float] = []
        var weights: [Double] = []
        if let elementWeights {
            var histogram = [Double](repeating: 0, count: 1 << 16)
            for range in ranges {
                for index in range { histogram[Int(OrderKey.of16(bits[index])) &+ 32768] += elementWeights.weight(ofElement: index) }
            }
            for bin in 0..<histogram.count where histogram[bin] != 0 {
                Self.append(FloatConversion.float(bits: OrderKey.bits16(Int32(bin) - 32768), of: type), weight: histogram[bin], to: &values, &weights)
            }
        } else if total < Self.histogramThreshold {
            var keys = [Int32]()
            keys.reserveCapacity(total)
            for range in ranges {
                for index in range { keys.append(OrderKey.of16(bits[index])) }
            }
            keys.sort()
            Self.forEachRun(keys) { key, count in
                Self.append(FloatConversion.float(bits: OrderKey.bits16(key), of: type), weight: Double(count), to: &values, &weights)
            }
        } else {
            let histogram = Self.histogram(bits, ranges: ranges, parallel: parallel)
            for bin in 0..<histogram.count where histogram[bin] != 0 {
                Self.append(FloatConversion.float(bits: OrderKey.bits16(Int32(bin) - 32768), of: type), weight: Double(histogram[bin]), to: &values, &weights)
            }
        }
        self.values = values
        self.weights = weights
    }

    /// The distinct values in `ranges` of `elements`, which must be finite.
    init(floats elements: UnsafePointer<Float>, ranges: [Range<Int>], elementWeights: ElementWeights? = nil) {
        // Sorting integer order keys is faster than sorting floats and orders them the same;
        // the element index rides in the low half when each element has its own weight.
        var keys = [Int64]()
        keys.reserveCapacity(ranges.reduce(0) { $0 + $1.count })
        let shift: Int64 = elementWeights == nil ? 0 : 32
        for range in ranges {
            for index in range {
                keys.append(Int64(OrderKey.of32(elements[index].bitPattern)) << shift | (shift == 0 ? 0 : Int64(index)))
            }
        }
        keys.sort()
        var values: [Float] = []
        var weights: [Double] = []
        var start = 0
        while start < keys.count {
            let key = keys[start] >> shift
            var end = start
            var weight = 0.0
            while end < keys.count && keys[end] >> shift == key {
                weight += elementWeights?.weight(ofElement: Int(keys[end] & 0xFFFF_FFFF)) ?? 1
                end += 1
            }
            Self.append(Float(bitPattern: OrderKey.bits32(Int32(key))), weight: weight, to: &values, &weights)
            start = end
        }
        self.values = values
        self.weights = weights
    }

    /// Counts per 16-bit pattern, binned in value order (bin = order key + 32768).
    private static func histogram(_ bits: UnsafePointer<UInt16>, ranges: [Range<Int>], parallel: Bool) -> [UInt32] {
        let bins = 1 << 16
        // A single range (the whole tensor) is cut into chunks with private histograms.
        var pieces = ranges
        if parallel, ranges.count == 1, let range = ranges.first {
            // One chunk per core, not more: zeroing and merging the histograms is the cost.
            let chunks = min(ParallelChunks.chunkCount(items: range.count, unitsPerItem: 1),
                             ProcessInfo.processInfo.activeProcessorCount)
            pieces = (0..<chunks).map { chunk in
                let part = ParallelChunks.range(chunk, of: chunks, count: range.count)
                return (range.lowerBound + part.lowerBound)..<(range.lowerBound + part.upperBound)
            }
        }
        let copies = pieces.count > 1 && parallel ? pieces.count : 1
        var histograms = [UInt32](repeating: 0, count: bins * copies)
        histograms.withUnsafeMutableBufferPointer { histograms in
            let base = histograms.baseAddress!
            if copies > 1 {
                ParallelChunks.forEach(count: copies, chunks: copies) { chunk, _ in
                    let histogram = base + chunk * bins
                    for index in pieces[chunk] { histogram[Int(OrderKey.of16(bits[index])) &+ 32768] &+= 1 }
                }
            } else {
                for range in pieces {
                    for index in range { base[Int(OrderKey.of16(bits[index])) &+ 32768] &+= 1 }
                }
            }
            for copy in 1..<copies {
                for bin in 0..<bins { base[bin] &+= base[copy * bins + bin] }
            }
        }
        return Array(histograms.prefix(bins))
    }

    /// Calls `body` with each run of equal sorted keys and its length.
    private static func forEachRun(_ keys: [Int32], _ body: (Int32, UInt32) -> Void) {
        var start = 0
        while start < keys.count {
            var end = start + 1
            while end < keys.count && keys[end] == keys[start] { end += 1 }
            body(keys[start], UInt32(end - start))
            start = end
        }
    }

    /// Appends a value in ascending order, merging −0 into a preceding +0 or the reverse.
    private static func append(_ value: Float, weight: Double, to values: inout [Float], _ weights: inout [Double]) {
        if let last = values.last, last == value {
            values[values.count - 1] = value + 0
            weights[weights.count - 1] += weight
        } else {
            values.append(value + 0)
            weights.append(weight)
        }
    }
}
