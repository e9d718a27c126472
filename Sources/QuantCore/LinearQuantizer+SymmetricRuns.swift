import CQuantKernels

extension LinearQuantizer.Plan {
    /// Whether the mode, scale type and layout are ones `symmetricRuns` covers.
    var takesSymmetricRuns: Bool {
        fusesRuns && config.mode == .linearSymmetric && (scaleType == .float16 || scaleType == .float32)
            && layout.axes.count == 2 && layout.axes[0].kind == .across && layout.run.kind == .within
            && layout.run.size % 8 == 0
    }

    /// The whole quantization in one pass of `qk_quantize_symmetric_runs`, for the layouts
    /// most weights have: one block per contiguous run (per channel, or per block along the
    /// innermost axis) in whole vectors, symmetric modes, and a source the vector kernels
    /// read. nil in every other case, which the general passes (extremes, parameters, codes,
    /// each over the whole tensor) handle.
    ///
    /// Same codes, scales, zero points, errors and error sums as the general passes: the
    /// kernel computes each block's scale with `blockQuantization`'s arithmetic, its codes as
    /// `qk_codes` does and its error as `qk_measure` adds it; chunks are cut the same way and
    /// the lanes flushed at the same elements. What it saves is per-block work between
    /// passes — three calls, three trips through memory and the parameter array — which on
    /// 32-element blocks cost more than the arithmetic.
    func symmetricRuns<Source: WeightSource, Rounding: QuotientRounding, Code: FixedWidthInteger>(
        _ source: Source, _: Rounding.Type, _: Code.Type, measure: Bool
    ) -> Swift.Result<(LinearQuantizedTensor, QuantizationErrorMetrics.Partial?), QuantCoreError>? {
        guard takesSymmetricRuns, let kernels = source.vectorKernels,
              let float16Quotient = Rounding.vectorKernelFloat16Quotient else { return nil }
        let zeroPoint = config.dtype.isSigned ? 0 : Int32(range.upperBound / 2)
        let plan = qk_symmetric_plan(element: kernels.element, scale_float16: scaleType == .float16 ? 1 : 0,
                                     float16_quotient: float16Quotient ? 1 : 0, signed_codes: Code.isSigned ? 1 : 0,
                                     qmin: Float(range.lowerBound), qmax: Float(range.upperBound), zero_point: zeroPoint)
        let length = layout.run.size
        let runs = layout.axes[0].size
        let chunks = ParallelChunks.chunkCount(items: layout.partitionSize, unitsPerItem: layout.elementsPerPartitionUnit)
        var failures = [QuantCoreError?](repeating: nil, count: max(chunks, 1))
        var partials = [QuantizationErrorMetrics.Partial](repeating: .init(), count: measure ? max(chunks, 1) : 0)
        var scales = [Float](repeating: 0, count: runs)
        let codes = [UInt8](unsafeUninitializedCapacity: layout.elementCount) { codes, initialized in
            let codes = codes.baseAddress!
            scales.withUnsafeMutableBufferPointer { scales in
                failures.withUnsafeMutableBufferPointer { failures in
                    partials.withUnsafeMutableBufferPointer { partials in
                        nonisolated(unsafe) let (scales, failures, partials) = (scales.baseAddress!, failures, partials)
                        ParallelChunks.forEach(count: runs, chunks: chunks) { chunk, range in
                            qk_populate_for_write(codes + range.lowerBound * length, range.count * length)
                            var accumulator = QuantizationErrorMetrics.RunAccumulator<Code>()
                            var status: Int32 = QK_RUN_OK
                            if measure {
                                accumulator.addKernelRuns { lanes, pending, flush, context in
                                    status = kernels.quantizeSymmetricRuns(plan, first: range.lowerBound, count: range.count, length: length,
                                                                           codes: codes, scales: scales, lanes: lanes, pending: &pending,
                                                                           flush: flush, context: context)
                                }
                            } else {
                                var pending = 0
                                status = kernels.quantizeSymmetricRuns(plan, first: range.lowerBound, count: range.count, length: length,
                                                                       codes: codes, scales: scales, lanes: nil, pending: &pending,
                                                                       flush: nil, context: nil)
                            }
                            guard status == QK_RUN_OK else {
                                failures[chunk] = status == QK_RUN_NON_FINITE ? .nonFiniteWeight : .scaleOverflow
                                return
                            }
                            if measure { partials[chunk] = accumulator.finish() }
                        }
                    }
                }
            }
            initialized = layout.elementCount
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { return .failure(failure) }
        let tensor = LinearQuantizedTensor(
            config: config, shape: shape, codes: codes, scales: scales, scaleShape: layout.scaleShape, scaleType: scaleType,
            zeroPoints: hasZeroPoints ? [UInt8](repeating: UInt8(truncatingIfNeeded: zeroPoint), count: runs) : nil)
        return .success((tensor, measure ? QuantizationErrorMetrics.Partial.sum(partials) : nil))
    }
}
