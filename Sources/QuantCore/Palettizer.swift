/// Palettization with coremltools' layout and semantics (`palettize_weights` in
/// `coremltools.optimize.coreml`): one LUT per group of channels, indices in `lut_to_dense`
/// order (see `PaletteLayout`), LUT in the weight's float type.
///
/// - kmeans: optimal 1-D k-means per group over the distinct values (`OptimalScalarClustering`)
///   instead of scikit-learn's k-means++ with `n_init=1`, so the error is never above
///   coremltools' for scalar LUTs; vectors use seeded k-means++ and Lloyd (`VectorKMeans`).
///   Centroids are rounded to the LUT type and each weight then takes the nearest stored one.
///   With per-channel scales each weight counts by its scale squared, so the error is
///   minimised where it is measured, after the scale is applied back.
/// - uniform and unique: coremltools' arithmetic, giving the same LUT and indices.
/// - per-channel scale: as coremltools 9 computes it, the max |w| over the channel axis at
///   each position of the other axes (1 if all zero), divided out in the weight's type before
///   palettizing.
///
/// Weights holding inf or NaN are refused, as scikit-learn refuses them.
public struct Palettizer: Sendable {
    public let config: PalettizationConfig

    public init(_ config: PalettizationConfig) {
        self.config = config
    }

    /// Palettizes little-endian weights of a floating `type`.
    public func palettize(
        _ bytes: UnsafeRawBufferPointer, type: ScalarType, shape: [Int]
    ) throws(QuantCoreError) -> PalettizedTensor {
        try config.validate()
        guard type.isFloatingPoint else { throw .notFloatingPoint(type) }
        let count = shape.reduce(1, *)
        guard bytes.count == count * type.byteWidth else {
            throw .sizeMismatch(expected: count * type.byteWidth, actual: bytes.count)
        }
        let layout = try PaletteLayout(shape: shape, config: config)
        // coremltools keeps float64 as float32; F8 LUTs would be too coarse to be useful.
        let lutType = LinearQuantizer.scaleType(for: type)
        // F16/BF16 scalars are worked on as bit patterns: one histogram bin or table entry each.
        let asHalves = layout.clusterDim == 1 && (lutType == .float16 || lutType == .bfloat16)
        func finish(_ working: WorkingValues, scales: [Float]?) throws(QuantCoreError) -> PalettizedTensor {
            // Scaled weights' errors grow with the scale squared; clustering weighs them so.
            let squares = scales?.map { Double($0) * Double($0) } ?? []
            return try squares.withUnsafeBufferPointer { (squares) throws(QuantCoreError) in
                let weights = scales == nil ? nil : ElementWeights(squares: squares, channels: layout.channels, inner: layout.inner)
                let plan = Plan(config: config, layout: layout, lutType: lutType, working: working, elementWeights: weights)
                let (nbits, lut, indices, valueCounts) = try layout.clusterDim == 1 ? plan.palettizeScalars() : plan.palettizeVectors()
                return PalettizedTensor(config: config, layout: layout, nbits: nbits, indices: indices, lut: lut,
                                        lutType: lutType, perChannelScale: scales, valueCounts: valueCounts)
            }
        }
        if asHalves && !config.enablePerChannelScale {
            // Little-endian bytes at an even address (what safetensors writers produce) are the
            // patterns already: read them in place, as a copy would add the model's size to the
            // job's memory.
            if UInt16(littleEndian: 1) == 1, Int(bitPattern: bytes.baseAddress) % 2 == 0 {
                return try bytes.withMemoryRebound(to: UInt16.self) { (bits) throws(QuantCoreError) in
                    guard Self.allFinite(bits, lutType) else { throw .nonFiniteWeight }
                    return try finish(.halves(bits), scales: nil)
                }
            }
            let bits = [UInt16](unsafeUninitializedCapacity: count) { bits, initialized in
                for index in 0..<count {
                    bits[index] = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                }
                initialized = count
            }
            return try bits.withUnsafeBufferPointer { (bits) throws(QuantCoreError) in
                guard Self.allFinite(bits, lutType) else { throw .nonFiniteWeight }
                return try finish(.halves(bits), scales: nil)
            }
        }
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { (values) throws(QuantCoreError) in
            try FloatConversion.decode(bytes, from: type, into: values)
        }
        return try values.withUnsafeMutableBufferPointer { (values) throws(QuantCoreError) in
            guard Self.allFinite(UnsafeBufferPointer(values)) else { throw .nonFiniteWeight }
            let scales = config.enablePerChannelScale ? Self.normalizeChannels(values, layout, lutType) : nil
            guard asHalves else { return try finish(.floats(UnsafeBufferPointer(values)), scales: scales) }
            let bits = values.map { lutType == .float16 ? FloatConversion.float16Bits($0) : FloatConversion.bfloat16Bits($0) }
            return try bits.withUnsafeBufferPointer { (bits) throws(QuantCoreError) in try finish(.halves(bits), scales: scales) }
        }
    }

    private static func allFinite(_ bits: UnsafeBufferPointer<UInt16>, _ type: ScalarType) -> Bool {
        let exponent: UInt16 = type == .float16 ? 0x7C00 : 0x7F80
        var special: UInt16 = 0
        for pattern in bits { special |= (pattern & exponent) == exponent ? 1 : 0 }
        return special == 0
    }

    private static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        let chunks = ParallelChunks.chunkCount(items: values.count, unitsPerItem: 1)
        var finite = [Bool](repeating: true, count: max(chunks, 1))
        finite.withUnsafeMutableBufferPointer { finite in
            ParallelChunks.forEach(count: values.count, chunks: chunks) { chunk, range in
                // Exponent bits all ones marks inf and NaN; the integer test vectorises.
                var special: UInt32 = 0
                for index in range { special |= (values[index].bitPattern & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
                finite[chunk] = special == 0
            }
        }
        return !finite.contains(false)
    }

    /// Divides the weights by coremltools' per-channel scale, rounding to `type` as its
    /// `weight /= per_channel_scale` does in the weight's dtype; returns the scales.
    ///
    /// coremltools 9 (`palettize_weights.transform_op`) takes
    /// `np.max(np.abs(w), axis=channel_axis, keepdims=True)`: the max over the channel axis, one
    /// scale per position `(o, i)` of the other axes (1 where all are zero).
    private static func normalizeChannels(
        _ values: UnsafeMutableBufferPointer<Float>, _ layout: PaletteLayout, _ type: ScalarType
    ) -> [Float] {
        let channels = layout.channels, inner = layout.inner
        let positions = layout.outer * inner
        var scales = [Float](repeating: 0, count: positions)
        scales.withUnsafeMutableBufferPointer { scales in
            let chunks = ParallelChunks.chunkCount(items: positions, unitsPerItem: channels)
            ParallelChunks.forEach(count: positions, chunks: chunks) { _, range in
                var position = range.lowerBound
                while position < range.upperBound {
                    // A run of positions sharing `o`, whose channels are `inner` apart.
                    let o = position / inner
                    let end = min(range.upperBound, (o + 1) * inner)
                    let first = o * channels * inner + position % inner
                    let count = end - position
                    for offset in 0..<count { scales[position + offset] = 0 }
                    for channel in 0..<channels {
                        let row = first + channel * inner
                        for offset in 0..<count {
                            scales[position + offset] = max(scales[position + offset], abs(values[row + offset]))
                        }
                    }
                    for offset in 0..<count where scales[position + offset] == 0 { scales[position + offset] = 1 }
                    for channel in 0..<channels {
                        let row = first + channel * inner
                        for offset in 0..<count {
                            values[row + offset] = FloatConversion.rounded(values[row + offset] / scales[position + offset], to: type)
                        }
                    }
                    position = end
                }
            }
        }
        return scales
    }
}

extension Palettizer {
    /// The weights a plan clusters: decoded floats, or F16/BF16 bit patterns for scalar LUTs.
    enum WorkingValues {
        case floats(UnsafeBufferPointer<Float>)
        case halves(UnsafeBufferPointer<UInt16>)
    }

    /// One palettization call over decoded (and possibly normalized) weights.
    struct Plan {
        let config: PalettizationConfig
        let layout: PaletteLayout
        let lutType: ScalarType
        let working: WorkingValues
        let elementWeights: ElementWeights?

        /// Runs `body` for each group, on all cores when there are several groups; a single
        /// group is left to parallelise inside `body`.
        private func forEachGroup(_ body: (_ group: Int) -> Void) {
            let groups = layout.groupCount
            let chunks = ParallelChunks.chunkCount(items: groups, unitsPerItem: layout.elementCount / groups)
            ParallelChunks.forEach(count: groups, chunks: chunks) { _, range in
                for group in range { body(group) }
            }
        }

        /// The group results of `make`, computed by `forEachGroup`.
        private func perGroup<Result>(_ make: (_ group: Int) -> Result) -> [Result] {
            let groups = layout.groupCount
            return [Result](unsafeUninitializedCapacity: groups) { results, initialized in
                let results = results.baseAddress!
                forEachGroup { group in (results + group).initialize(to: make(group)) }
                initialized = groups
            }
        }

        /// nbits from the config, or for unique mode the fewest supported bits that index the
        /// largest group's distinct values.
        private func bitWidth(distinctCounts: [Int]) throws(QuantCoreError) -> Int {
            if let nbits = config.nbits { return nbits }
            let largest = distinctCounts.max() ?? 1
            guard let nbits = PalettizationConfig.supportedBitWidths.first(where: { largest <= 1 << $0 }) else {
                throw .tooManyUniqueValues(count: largest)
            }
            return nbits
        }

        /// Index rows on all cores, each row handed to `body` with its group.
        private func forEachIndexRow(unitsPerRow: Int, _ body: (_ row: Int, _ group: Int) -> Void) {
            let rows = layout.indexRowCount
            let chunks = ParallelChunks.chunkCount(items: rows, unitsPerItem: unitsPerRow)
            ParallelChunks.forEach(count: rows, chunks: chunks) { _, range in
                for row in range { body(row, layout.group(ofIndexRow: row)) }
            }
        }

        // MARK: Scalar LUTs

        func palettizeScalars() throws(QuantCoreError)
            -> (nbits: Int, lut: [Float], indices: [UInt8], valueCounts: PalettizedTensor.ValueCounts?) {
            let inner = layout.inner
            let single = layout.isSingleGroup
            let lutType = lutType
            let distinct = perGroup { group in
                let ranges = Array(layout.indexRows(ofGroup: group).map { ($0.lowerBound * inner)..<($0.upperBound * inner) })
                switch working {
                case .floats(let values):
                    return DistinctValues(floats: values.baseAddress!, ranges: ranges, elementWeights: elementWeights)
                case .halves(let bits):
                    return DistinctValues(bits: bits.baseAddress!, ranges: ranges, type: lutType, parallel: single,
                                          elementWeights: elementWeights)
                }
            }
            let nbits = try bitWidth(distinctCounts: distinct.map(\.count))
            let entries = 1 << nbits
            let palettes: [ScalarPalette] = perGroup { group in
                let points = distinct[group]
                switch config.mode {
                case .kmeans:
                    let centroids = OptimalScalarClustering.centroids(of: points, clusterCount: entries, parallel: single)
                    return .nearest(centroids.map { FloatConversion.rounded($0, to: lutType) }, entries: entries)
                case .unique:
                    return .nearest(points.values, entries: entries)
                case .uniform:
                    return .uniform(UniformPalette(minimum: points.values.first ?? 0, maximum: points.values.last ?? 0,
                                                   nbits: nbits, type: lutType))
                }
            }
            // A table of all 65536 patterns pays for itself once a group is about that large.
            let groupElements = layout.elementCount / layout.groupCount
            let tables: [[UInt8]] = perGroup { group in
                guard case .halves = working, groupElements >= 1 << 16 else { return [] }
                return palettes[group].table(for: lutType)
            }
            let indices = [UInt8](unsafeUninitializedCapacity: layout.indexCount) { indices, initialized in
                let indices = indices.baseAddress!
                forEachIndexRow(unitsPerRow: inner) { row, group in
                    let start = row * inner
                    switch working {
                    case .floats(let values):
                        palettes[group].assign(values.baseAddress! + start, count: inner, into: indices + start)
                    case .halves(let bits) where !tables[group].isEmpty:
                        tables[group].withUnsafeBufferPointer { table in
                            for index in start..<(start + inner) { indices[index] = table[Int(bits[index])] }
                        }
                    case .halves(let bits):
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: inner) { row in
                            for index in 0..<inner {
                                row[index] = FloatConversion.float(bits: bits[start + index], of: lutType)
                            }
                            palettes[group].assign(row.baseAddress!, count: inner, into: indices + start)
                        }
                    }
                }
                initialized = layout.indexCount
            }
            // One group of F16/BF16 weights, each counted once: its distinct values are the
            // tensor's histogram, which error metrics can sum over instead of the elements.
            var valueCounts: PalettizedTensor.ValueCounts?
            if case .halves = working, elementWeights == nil, let points = distinct.first, distinct.count == 1 {
                let entries = [UInt8](unsafeUninitializedCapacity: points.count) { entries, initialized in
                    points.values.withUnsafeBufferPointer { values in
                        palettes[0].assign(values.baseAddress!, count: values.count, into: entries.baseAddress!)
                    }
                    initialized = points.count
                }
                valueCounts = .init(values: points.values, counts: points.weights, entries: entries)
            }
            return (nbits, palettes.flatMap(\.lut), indices, valueCounts)
        }

        // MARK: Vector LUTs

        func palettizeVectors() throws(QuantCoreError)
            -> (nbits: Int, lut: [Float], indices: [UInt8], valueCounts: PalettizedTensor.ValueCounts?) {
            guard case .floats(let values) = working else { preconditionFailure("vectors are palettized from floats") }
            let d = layout.clusterDim, inner = layout.inner
            let single = layout.isSingleGroup
            let distinct = perGroup { group in
                var vectors: [Float] = []
                vectors.reserveCapacity(layout.elementCount / layout.groupCount)
                // A vector's components share their position off the channel axis, so their scale.
                var rowWeights: [Double]? = elementWeights == nil ? nil : []
                for rows in layout.indexRows(ofGroup: group) {
                    for row in rows {
                        let element = layout.elementOffset(ofIndexRow: row)
                        for position in 0..<inner {
                            for component in 0..<d { vectors.append(values[element + component * inner + position]) }
                            if let elementWeights { rowWeights?.append(elementWeights.weight(ofElement: element + position)) }
                        }
                    }
                }
                return vectors.withUnsafeBufferPointer { DistinctVectors($0, dimension: d, rowWeights: rowWeights) }
            }
            let nbits = try bitWidth(distinctCounts: distinct.map(\.count))
            let entries = 1 << nbits
            let tables: [[Float]] = perGroup { group in
                let points = distinct[group]
                let used: [Float]
                switch config.mode {
                case .kmeans:
                    used = VectorKMeans.centroids(of: points, clusterCount: entries, parallel: single)
                        .map { FloatConversion.rounded($0, to: lutType) }
                case .unique, .uniform:
                    used = points.values
                }
                return used + [Float](repeating: 0, count: entries * d - used.count)
            }
            let usedEntries = distinct.map { min($0.count, entries) }
            let lut = tables.flatMap { $0 }
            let indices = [UInt8](unsafeUninitializedCapacity: layout.indexCount) { indices, initialized in
                let indices = indices.baseAddress!
                lut.withUnsafeBufferPointer { lut in
                    forEachIndexRow(unitsPerRow: inner * entries * d) { row, group in
                        let table = lut.baseAddress! + group * entries * d
                        let element = values.baseAddress! + layout.elementOffset(ofIndexRow: row)
                        for position in 0..<inner {
                            var best = Double.infinity, label = 0
                            for entry in 0..<usedEntries[group] {
                                var distance = 0.0
                                for component in 0..<d {
                                    let difference = Double(element[component * inner + position]) - Double(table[entry * d + component])
                                    distance += difference * difference
                                }
                                if distance < best { best = distance; label = entry }
                            }
                            indices[row * inner + position] = UInt8(label)
                        }
                    }
                }
                initialized = layout.indexCount
            }
            return (nbits, lut, indices, nil)
        }
    }
}
