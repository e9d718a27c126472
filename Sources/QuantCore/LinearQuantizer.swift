import CQuantKernels

/// Linear weight quantization with coremltools' exact arithmetic
/// (`coremltools.optimize._utils.quantize_weight_by_dtype`, reached from
/// `linear_quantize_weights.blockwise_compress`).
///
/// Per block, in the weight's floating type (every operation rounded to it, as numpy does):
/// - symmetric: `m = max|w|`, `scale = (m − (−m)) / (qmax − qmin)`; unsigned types get the
///   fixed zero point `qmax // 2`.
/// - linear: `lo = min(w, 0)`, `hi = max(w, 0)`, `scale = (hi − lo) / (qmax − qmin)`,
///   `zp = clip(round((qmin·hi − qmax·lo) / (hi − lo)), qmin, qmax)`.
/// - `q = clip(round(w / scale) + zp, qmin, qmax)`, `round` being half to even.
///
/// One deliberate difference: where coremltools' scale comes out 0 (an all-zero block, or a
/// range that underflows the type), it divides 0/0 and stores scale 0 with NaN-cast codes.
/// Here such blocks get scale 1 and codes equal to the zero point, which dequantizes to the
/// same zeros without a NaN on the way.
public struct LinearQuantizer: Sendable {
    public let config: LinearQuantizationConfig
    /// Whether layouts `symmetricRuns` covers take its one-pass kernel; tests turn it off to
    /// compare it with the general passes.
    var fusesRuns = true

    public init(_ config: LinearQuantizationConfig = LinearQuantizationConfig()) {
        self.config = config
    }

    /// The type scales are computed and stored in for weights of `type`: the weight's own
    /// type where coremltools has one (F16, F32), BF16 by the same rule, and F32 for F64
    /// (coremltools holds float64 constants as float32) and F8 (too coarse for scales).
    public static func scaleType(for type: ScalarType) -> ScalarType {
        switch type {
        case .float16: .float16
        case .bfloat16: .bfloat16
        default: .float32
        }
    }

    /// Quantizes little-endian weights of a floating `type`, decoding on the fly.
    public func quantize(
        _ bytes: UnsafeRawBufferPointer, type: ScalarType, shape: [Int]
    ) throws(QuantCoreError) -> LinearQuantizedTensor {
        guard type.isFloatingPoint else { throw .notFloatingPoint(type) }
        let count = shape.reduce(1, *)
        guard bytes.count == count * type.byteWidth else {
            throw .sizeMismatch(expected: count * type.byteWidth, actual: bytes.count)
        }
        let plan = try Plan(config: config, shape: shape, scaleType: Self.scaleType(for: type), fusesRuns: fusesRuns)
        guard count > 0, let base = bytes.baseAddress else { return plan.emptyResult() }
        return try withWeightSource(type, base, plan).get()
    }

    /// `quantize`, and the error of the result as `QuantizationErrorMetrics(original:type:quantized:)`
    /// gives it, measured run by run as codes are written, while the weights and codes are
    /// still in cache, instead of in a second pass over both (equal sums, in the same order).
    public func quantizeMeasured(
        _ bytes: UnsafeRawBufferPointer, type: ScalarType, shape: [Int]
    ) throws(QuantCoreError) -> (LinearQuantizedTensor, QuantizationErrorMetrics) {
        guard type.isFloatingPoint else { throw .notFloatingPoint(type) }
        let count = shape.reduce(1, *)
        guard bytes.count == count * type.byteWidth else {
            throw .sizeMismatch(expected: count * type.byteWidth, actual: bytes.count)
        }
        let plan = try Plan(config: config, shape: shape, scaleType: Self.scaleType(for: type), fusesRuns: fusesRuns)
        guard count > 0, let base = bytes.baseAddress else {
            let empty = plan.emptyResult()
            return (empty, QuantizationErrorMetrics(original: bytes, type: type, quantized: empty))
        }
        let (tensor, partial) = try withWeightSource(type, base, Plan.Measured(plan: plan)).get()
        guard let partial else { return (tensor, QuantizationErrorMetrics(original: bytes, type: type, quantized: tensor)) }
        return (tensor, QuantizationErrorMetrics(partial, count: count))
    }

    /// Quantizes weights already in `Float`, doing the arithmetic in `scaleType` (F32, F16 or
    /// BF16), which should be the type the values were decoded from.
    public func quantize(
        _ values: UnsafeBufferPointer<Float>, shape: [Int], scaleType: ScalarType = .float32
    ) throws(QuantCoreError) -> LinearQuantizedTensor {
        guard [.float32, .float16, .bfloat16].contains(scaleType) else { throw .unsupportedEncoding(scaleType) }
        let count = shape.reduce(1, *)
        guard values.count == count else { throw .sizeMismatch(expected: count, actual: values.count) }
        let plan = try Plan(config: config, shape: shape, scaleType: scaleType, fusesRuns: fusesRuns)
        guard count > 0, let base = values.baseAddress else { return plan.emptyResult() }
        return try plan.visit(FloatBufferSource(base: base)).get()
    }
}

/// Per-block constants of the element loop: `q = rint(clamp(w / scale, lower, upper)) + zeroPoint`.
///
/// Clamping before rounding equals coremltools' clip after it because the bounds
/// `qmin − zp` and `qmax − zp` are integers.
struct BlockQuantization: Sendable {
    var scale: Float
    var lower: Float
    var upper: Float
    var zeroPoint: Int32

    @inline(__always)
    func code<Rounding: QuotientRounding>(_ weight: Float, _: Rounding.Type) -> UInt8 {
        var quotient = Rounding.round(weight / scale)
        quotient = quotient < lower ? lower : quotient
        quotient = quotient > upper ? upper : quotient
        // Adding 1.5·2^23 rounds half to even onto the integer grid, leaving the integer in
        // the low mantissa bits; faster than rint without SSE4.1.
        let integer = Int32(bitPattern: (quotient + 12_582_912).bitPattern) &- 0x4B40_0000
        return UInt8(truncatingIfNeeded: integer &+ zeroPoint)
    }

    /// `code` on eight lanes, returning the code integers. It rounds first and clamps the
    /// integers (exact: the bounds are integers, and |w / scale| stays far below 2^22), with
    /// arithmetic instead of lane selects, which Swift lowers lane by lane.
    @inline(__always)
    func codes8<Rounding: QuotientRounding>(_ weights: SIMD8<Float>, _: Rounding.Type) -> SIMD8<Int32> {
        let quotient = Rounding.round(weights / SIMD8(repeating: scale))
        var integer = unsafeBitCast(quotient + 12_582_912, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let low = SIMD8<Int32>(repeating: Int32(lower)), high = SIMD8<Int32>(repeating: Int32(upper))
        let below = low &- integer
        integer &+= below & ~(below &>> 31)
        let above = integer &- high
        integer &-= above & ~(above &>> 31)
        return integer &+ SIMD8(repeating: zeroPoint)
    }
}

extension LinearQuantizer {
    /// Everything about one quantization call that does not depend on the element type.
    struct Plan: WeightSourceVisitor {
        let config: LinearQuantizationConfig
        let shape: [Int]
        let layout: BlockLayout
        let scaleType: ScalarType
        let range: ClosedRange<Int>
        let fusesRuns: Bool

        init(config: LinearQuantizationConfig, shape: [Int], scaleType: ScalarType, fusesRuns: Bool = true) throws(QuantCoreError) {
            self.config = config
            self.fusesRuns = fusesRuns
            self.shape = shape
            self.layout = try BlockLayout(shape: shape, blockSizes: config.blockSizes(for: shape))
            self.scaleType = scaleType
            self.range = config.quantizedRange
        }

        func emptyResult() -> LinearQuantizedTensor {
            LinearQuantizedTensor(config: config, shape: shape, codes: [], scales: [],
                                  scaleShape: layout.scaleShape, scaleType: scaleType,
                                  zeroPoints: hasZeroPoints ? [] : nil)
        }

        /// coremltools returns zero points for every mode but symmetric signed.
        var hasZeroPoints: Bool { config.mode == .linear || !config.dtype.isSigned }

        func visit<Source: WeightSource>(_ source: Source) -> Result<LinearQuantizedTensor, QuantCoreError> {
            run(source, measure: false).map(\.0)
        }

        /// The plan run with its error measured in the same pass where the layout allows
        /// (runs of one block each); the partial sums are nil otherwise.
        struct Measured: WeightSourceVisitor {
            let plan: Plan
            func visit<Source: WeightSource>(_ source: Source)
                -> Result<(LinearQuantizedTensor, QuantizationErrorMetrics.Partial?), QuantCoreError> {
                plan.run(source, measure: true)
            }
        }

        private func run<Source: WeightSource>(_ source: Source, measure: Bool)
            -> Result<(LinearQuantizedTensor, QuantizationErrorMetrics.Partial?), QuantCoreError> {
            switch (scaleType, config.dtype.isSigned) {
            case (.float16, true): run(source, Float16Quotient.self, Int8.self, measure: measure)
            case (.float16, false): run(source, Float16Quotient.self, UInt8.self, measure: measure)
            case (.bfloat16, true): run(source, BFloat16Quotient.self, Int8.self, measure: measure)
            case (.bfloat16, false): run(source, BFloat16Quotient.self, UInt8.self, measure: measure)
            case (_, true): run(source, Float32Quotient.self, Int8.self, measure: measure)
            case (_, false): run(source, Float32Quotient.self, UInt8.self, measure: measure)
            }
        }

        /// `Code` is the integer type the code bytes stand for, for measuring.
        private func run<Source: WeightSource, Rounding: QuotientRounding, Code: FixedWidthInteger>(
            _ source: Source, _ rounding: Rounding.Type, _: Code.Type, measure: Bool
        ) -> Result<(LinearQuantizedTensor, QuantizationErrorMetrics.Partial?), QuantCoreError> {
            if let done = symmetricRuns(source, rounding, Code.self, measure: measure) { return done }
            let (minimums, maximums) = blockExtremes(source)
            let blockCount = layout.blockCount
            var blocks = [BlockQuantization](repeating: BlockQuantization(scale: 1, lower: 0, upper: 0, zeroPoint: 0),
                                             count: blockCount)
            let chunks = ParallelChunks.chunkCount(items: blockCount, unitsPerItem: 256)
            var failures = [QuantCoreError?](repeating: nil, count: max(chunks, 1))
            blocks.withUnsafeMutableBufferPointer { blocks in
                failures.withUnsafeMutableBufferPointer { failures in
                    ParallelChunks.forEach(count: blockCount, chunks: chunks) { chunk, range in
                        for block in range {
                            guard minimums[block].isFinite, maximums[block].isFinite else {
                                failures[chunk] = .nonFiniteWeight
                                return
                            }
                            guard let parameters = blockQuantization(minimum: minimums[block], maximum: maximums[block]) else {
                                failures[chunk] = .scaleOverflow
                                return
                            }
                            blocks[block] = parameters
                        }
                    }
                }
            }
            if let failure = failures.lazy.compactMap({ $0 }).first { return .failure(failure) }
            let (codes, partial) = blocks.withUnsafeBufferPointer { blocks in
                quantizedCodes(source, blocks: blocks, rounding, Code.self, measure: measure && layout.run.kind == .within)
            }
            return .success((LinearQuantizedTensor(
                config: config, shape: shape, codes: codes, scales: blocks.map(\.scale),
                scaleShape: layout.scaleShape, scaleType: scaleType,
                zeroPoints: hasZeroPoints ? blocks.map { UInt8(truncatingIfNeeded: $0.zeroPoint) } : nil), partial))
        }

        /// Rounds `value` to `scaleType`, as numpy does after each operation on that dtype.
        @inline(__always)
        private func rounded(_ value: Float) -> Float {
            switch scaleType {
            case .float16: FloatConversion.float(float16Bits: FloatConversion.float16Bits(value))
            case .bfloat16: FloatConversion.float(bfloat16Bits: FloatConversion.bfloat16Bits(value))
            default: value
            }
        }

        /// coremltools' scale and zero point for a block with these extremes, or nil when the
        /// scale overflows.
        @inline(__always)
        func blockQuantization(minimum: Float, maximum: Float) -> BlockQuantization? {
            let qmin = Float(range.lowerBound)
            let qmax = Float(range.upperBound)
            let low: Float
            let high: Float
            switch config.mode {
            case .linearSymmetric:
                high = max(abs(minimum), abs(maximum))
                low = -high
            case .linear:
                low = min(0, minimum)
                high = max(0, maximum)
            }
            let span = rounded(high - low)
            let scale = rounded(span / (qmax - qmin))
            guard scale.isFinite else { return nil }

            var zeroPoint: Float = 0
            if config.mode == .linearSymmetric && !config.dtype.isSigned {
                zeroPoint = Float(range.upperBound / 2)
            } else if config.mode == .linear && scale != 0 {
                let exact = rounded(rounded(rounded(qmin * high) - rounded(qmax * low)) / span)
                // numpy casts a NaN zero point, and the NaN codes it makes, to integer 0.
                guard !exact.isNaN else { return BlockQuantization(scale: scale, lower: 0, upper: 0, zeroPoint: 0) }
                zeroPoint = Self.roundedHalfToEven(min(max(exact, qmin), qmax))
            }
            if scale == 0 {
                return BlockQuantization(scale: 1, lower: 0, upper: 0, zeroPoint: Int32(zeroPoint))
            }
            return BlockQuantization(scale: scale, lower: qmin - zeroPoint, upper: qmax - zeroPoint,
                                     zeroPoint: Int32(zeroPoint))
        }

        private static func roundedHalfToEven(_ value: Float) -> Float {
            value.rounded(.toNearestOrEven)
        }

        /// Minimum and maximum weight per block (NaN shows up as one of them). min/max are
        /// exact, so chunk order cannot change the result.
        private func blockExtremes<Source: WeightSource>(_ source: Source) -> (minimums: [Float], maximums: [Float]) {
            let blockCount = layout.blockCount
            let chunks = ParallelChunks.chunkCount(items: layout.partitionSize, unitsPerItem: layout.elementsPerPartitionUnit)
            // Chunks that can meet in a block keep private extremes, merged afterwards.
            let copies = layout.partitionsShareBlocks ? chunks : 1
            var lows = [Int32](repeating: .max, count: blockCount * copies)
            var highs = [Int32](repeating: .min, count: blockCount * copies)
            lows.withUnsafeMutableBufferPointer { lows in
                highs.withUnsafeMutableBufferPointer { highs in
                    let layout = layout
                    let runKind = layout.run.kind
                    let kernels = source.vectorKernels
                    ParallelChunks.forEach(count: layout.partitionSize, chunks: chunks) { chunk, partition in
                        let base = copies == 1 ? 0 : chunk * blockCount
                        let lows = lows.baseAddress! + base
                        let highs = highs.baseAddress! + base
                        layout.forEachRun(in: partition) { offset, block, length in
                            if runKind == .within, let kernels {
                                kernels.orderKeyExtremes(offset: offset, count: length, low: &lows[block], high: &highs[block])
                            } else if runKind == .within {
                                var low = lows[block]
                                var high = highs[block]
                                for index in offset..<(offset + length) {
                                    let key = source.orderKey(at: index)
                                    low = key < low ? key : low
                                    high = key > high ? key : high
                                }
                                lows[block] = low
                                highs[block] = high
                            } else {
                                for step in 0..<length {
                                    let key = source.orderKey(at: offset + step)
                                    lows[block + step] = key < lows[block + step] ? key : lows[block + step]
                                    highs[block + step] = key > highs[block + step] ? key : highs[block + step]
                                }
                            }
                        }
                    }
                }
            }
            for copy in 1..<max(copies, 1) {
                for block in 0..<blockCount {
                    lows[block] = min(lows[block], lows[copy * blockCount + block])
                    highs[block] = max(highs[block], highs[copy * blockCount + block])
                }
            }
            return (lows[0..<blockCount].map(source.value(ofOrderKey:)),
                    highs[0..<blockCount].map(source.value(ofOrderKey:)))
        }

        /// The codes, and with `measure` (`.within` runs only) each chunk's error sums, added
        /// run by run right after the run's codes are written.
        private func quantizedCodes<Source: WeightSource, Rounding: QuotientRounding, Code: FixedWidthInteger>(
            _ source: Source, blocks: UnsafeBufferPointer<BlockQuantization>, _ rounding: Rounding.Type, _: Code.Type,
            measure: Bool
        ) -> ([UInt8], QuantizationErrorMetrics.Partial?) {
            let count = layout.elementCount
            let layout = layout
            let chunks = ParallelChunks.chunkCount(items: layout.partitionSize, unitsPerItem: layout.elementsPerPartitionUnit)
            var partials = [QuantizationErrorMetrics.Partial](repeating: .init(), count: measure ? max(chunks, 1) : 0)
            let hasZeroPoints = hasZeroPoints
            let codes = [UInt8](unsafeUninitializedCapacity: count) { codes, initialized in
                let codes = codes.baseAddress!
                let written = UnsafeBufferPointer(start: codes, count: count)
                let runKind = layout.run.kind
                let kernels = Rounding.vectorKernelFloat16Quotient == nil ? nil : source.vectorKernels
                let measureKernels = source.vectorKernels
                let float16Quotient = Rounding.vectorKernelFloat16Quotient ?? false
                partials.withUnsafeMutableBufferPointer { partials in
                nonisolated(unsafe) let partials = partials
                let unit = layout.elementsPerPartitionUnit
                ParallelChunks.forEach(count: layout.partitionSize, chunks: chunks) { chunk, partition in
                    // The chunk's codes are contiguous: its outer indices times their stride.
                    qk_populate_for_write(codes + partition.lowerBound * unit, partition.count * unit)
                    var accumulator = QuantizationErrorMetrics.RunAccumulator<Code>()
                    layout.forEachRun(in: partition) { offset, block, length in
                        defer {
                            if measure {
                                let parameters = blocks[block]
                                // As the tensor stores it: the zero point's low byte, read as a `Code`.
                                let zeroPoint = hasZeroPoints ? Float(Code(truncatingIfNeeded: UInt8(truncatingIfNeeded: parameters.zeroPoint))) : 0
                                accumulator.add(source, measureKernels, written, offset: offset, length: length,
                                                scale: parameters.scale, zeroPoint: zeroPoint)
                            }
                        }
                        if runKind == .within {
                            let parameters = blocks[block]
                            var index = offset
                            if let kernels {
                                index += kernels.codes(offset: offset, count: length, block: parameters,
                                                       float16Quotient: float16Quotient, into: codes)
                            }
                            let end = offset + length
                            while index + 8 <= end {
                                let integers = parameters.codes8(source.vector8(at: index), rounding)
                                for k in 0..<8 { codes[index &+ k] = UInt8(truncatingIfNeeded: integers[k]) }
                                index &+= 8
                            }
                            while index < end {
                                codes[index] = parameters.code(source[index], rounding)
                                index &+= 1
                            }
                        } else {
                            for step in 0..<length {
                                codes[offset + step] = blocks[block + step].code(source[offset + step], rounding)
                            }
                        }
                    }
                    if measure { partials[chunk] = accumulator.finish() }
                }
                }
                initialized = count
            }
            return (codes, measure ? QuantizationErrorMetrics.Partial.sum(partials) : nil)
        }
    }
}
