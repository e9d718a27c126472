import QuantCore

/// The one decision of quantd: which stage applies to a weight, why a weight is left alone,
/// what a joint compression keeps, and the error of what it makes — as coremltools' passes
/// decide (`need_compress_const`, then each pass's transform), for every format alike.
///
/// Formats hand it candidates and bytes and write back the form it returns; none of them
/// decides whether or how a weight is compressed.
public struct WeightCompressor: Sendable {
    /// How linear stages round: coremltools' formulas, or — for the MatMul weights of a
    /// format that writes onnxruntime's `MatMulNBits` — onnxruntime's own blockwise rule, so
    /// its packed weights are the ones onnxruntime's quantizer writes.
    public enum LinearRule: Sendable, Equatable {
        case coremltools
        case matMulNBits
    }

    public let pipeline: CompressionPipeline
    public let linearRule: LinearRule

    public init(pipeline: CompressionPipeline, linearRule: LinearRule = .coremltools) {
        self.pipeline = pipeline
        self.linearRule = linearRule
    }

    /// The stages that apply to `w`, in order (op name > op type > global).
    public func stages(for w: WeightCandidate) -> [OptimizationConfig.OpConfig] {
        pipeline.ops(opName: w.name, opType: w.opType)
    }

    /// Refuses, before a job is queued, what coremltools raises on rather than skips: a
    /// palette layout that does not fit the weight, and joint forms quantd cannot write.
    public func preflight(_ w: WeightCandidate) throws(ConfigRejection) {
        let ops = stages(for: w)
        guard w.type.isFloatingPoint, w.ineligibility == nil else { return }
        if linearRule == .matMulNBits, Self.readsAsMatMulB(w), ops.count == 1, case .linearQuantization(let c) = ops[0],
           c.applies(toShape: w.shape), Self.matMulNBits(c) == nil {
            throw ConfigRejection(weight: w.name, shape: w.shape, field: "onnx_format",
                                  message: "MatMulNBits takes per_block quantization along K with block_size 16, 32, 64, 128 or 256 and 4 or 8 bits; use that config, or onnx_format qdq")
        }
        for (index, op) in ops.enumerated() {
            guard case .palettization(var c) = op, c.applies(toShape: w.shape) else { continue }
            if index > 0, case .pruning = ops[0], c.clusterDim > 1 {
                throw ConfigRejection(weight: w.name, shape: w.shape, field: "cluster_dim",
                                      message: "vector palettization (cluster_dim > 1) after pruning is not supported: coremltools changes the sparsity mask to whole vectors there (constexpr_lut_to_sparse with a vector_axis), which quantd does not write; use cluster_dim 1, or palettize without pruning")
            }
            if let axis = w.outputAxis { c = Self.palette(c, (axis, w.inputAxis ?? 0)) }
            do { _ = try c.resolvedGroupSize(shape: w.shape) } catch {
                throw ConfigRejection(weight: w.name, shape: w.shape, field: c.clusterDim > 1 ? "cluster_dim" : "group_size",
                                      message: "\(error); choose a group_size and cluster_dim that divide its channels, or exclude it with op_name_configs")
            }
        }
    }

    /// Compresses one weight whose bytes (in `w.type`, row-major) are `bytes`.
    /// The weight left as it is when that is decided without its values (the config, its
    /// type, rank and readers), else nil: then its bytes are needed.
    public func skip(_ w: WeightCandidate) -> CompressedWeight? {
        let reason: SkipReason? =
            stages(for: w).isEmpty ? .excludedByConfig
            : !w.type.isFloatingPoint ? .notFloatingPoint(w.type)
            : w.shape.count < 2 ? .rankBelowTwo(w.shape.count)
            : w.ineligibility ?? (w.outputAxis == nil ? .consumersDisagreeOnAxis : nil)
        return reason.map { Self.unchanged(w, $0) }
    }

    static func unchanged(_ w: WeightCandidate, _ reason: SkipReason) -> CompressedWeight {
        CompressedWeight(candidate: w, form: .unchanged(reason), warnings: reason.isWarned ? ["\(w.name): \(reason); left unchanged"] : [])
    }

    public func compress(_ w: WeightCandidate, _ bytes: UnsafeRawBufferPointer) throws(CompressionError) -> CompressedWeight {
        if let skipped = skip(w) { return skipped }
        let ops = stages(for: w)
        let (outputAxis, inputAxis) = (w.outputAxis!, w.inputAxis!)
        var warnings: [String] = []
        do {
            let stage = try compress(w, bytes, ops[...], axes: (outputAxis, inputAxis), warnings: &warnings)
            return CompressedWeight(candidate: w, form: stage.form, metrics: stage.metrics, warnings: warnings)
        } catch let error where error.leavesWeightUnchanged {
            return Self.unchanged(w, .nonFinite(error))
        } catch {
            throw CompressionError(weight: w.name, error)
        }
    }

    private struct Stage {
        var form: CompressedForm
        var metrics: QuantizationErrorMetrics?
    }

    /// Applies the stages in order. A stage that skips the weight (as a coremltools pass
    /// would) hands it on to the next stage alone, as the next pass then sees a plain const.
    private func compress(_ w: WeightCandidate, _ bytes: UnsafeRawBufferPointer, _ ops: ArraySlice<OptimizationConfig.OpConfig>,
                          axes: (output: Int, input: Int), warnings: inout [String]) throws(QuantCoreError) -> Stage {
        guard let first = ops.first else { preconditionFailure("at least one stage") }
        let next = ops.dropFirst().first
        switch first {
        case .linearQuantization(let config):
            let c = Self.linear(config, axes)
            // onnxruntime pads K to whole blocks, where coremltools' per_block skips the weight.
            if linearRule == .matMulNBits, next == nil, Self.readsAsMatMulB(w), c.applies(toShape: w.shape),
               let quantizer = Self.matMulNBits(c) {
                let result = try quantizer.quantize(bytes, type: w.type, k: w.shape[0], n: w.shape[1])
                let metrics = result.dequantized(bits: quantizer.bits, blockSize: quantizer.blockSize).withUnsafeBufferPointer {
                    QuantizationErrorMetrics(original: bytes, type: w.type, reconstructed: $0)
                }
                return Stage(form: .matMulNBits(result, bits: quantizer.bits, blockSize: quantizer.blockSize, symmetric: quantizer.isSymmetric),
                             metrics: metrics)
            }
            if let reason = Self.linearSkip(w, c) {
                if case .blockMismatch = reason { warnings.append("\(w.name): \(reason); left unchanged") }
                return Stage(form: .unchanged(reason))
            }
            let (q, metrics) = try LinearQuantizer(c).quantizeMeasured(bytes, type: w.type, shape: w.shape)
            return Stage(form: .linear(q), metrics: metrics)

        case .palettization(let config):
            let pc = Self.palette(config, axes)
            if let reason = Self.paletteSkip(w, pc) { return Stage(form: .unchanged(reason)) }
            let palette = try Palettizer(pc).palettize(bytes, type: w.type, shape: w.shape)
            guard case .linearQuantization(let lc)? = next else {
                return Stage(form: .palettized(palette, quantizedLUT: nil),
                             metrics: QuantizationErrorMetrics(original: bytes, type: w.type, palettized: palette))
            }
            guard let lut = try palette.quantizingLUT(with: lc) else {
                warnings.append("\(w.name): the LUT has \(palette.lut.count) entries, not more than weight_threshold \(lc.weightThreshold) (or fewer than 10); left in float as coremltools does")
                return Stage(form: .palettized(palette, quantizedLUT: nil),
                             metrics: QuantizationErrorMetrics(original: bytes, type: w.type, palettized: palette))
            }
            return Stage(form: .palettized(palette, quantizedLUT: lut),
                         metrics: QuantizationErrorMetrics(original: bytes, type: w.type, palettized: palette.replacingLUT(lut.dequantized())))

        case .pruning(let p):
            let pruned: PrunedTensor
            switch try Pruner(p).outcome(bytes, type: w.type, shape: w.shape) {
            case .skipped(let reason):
                if next != nil { return try compress(w, bytes, ops.dropFirst(), axes: axes, warnings: &warnings) }
                return Stage(form: .unchanged(.pruner(reason)))
            case .pruned(let tensor):
                pruned = tensor
            }
            let prunedAlone = { Stage(form: .pruned(pruned, p), metrics: QuantizationErrorMetrics(original: bytes, type: w.type, pruned: pruned)) }
            switch next {
            case nil, .pruning?:
                return prunedAlone()
            case .linearQuantization(let config)?:
                let c = Self.linear(config, axes)
                if let reason = Self.linearSkip(w, c) {
                    warnings.append("\(w.name): pruned but not quantized (\(reason))")
                    return prunedAlone()
                }
                // As coremltools: quantize the dense pruned weight, keep the kept codes.
                let q = try LinearQuantizer(c).quantize(pruned)
                let metrics = q.dequantized().withUnsafeBufferPointer { QuantizationErrorMetrics(original: bytes, type: w.type, reconstructed: $0) }
                return Stage(form: .prunedLinear(q, p), metrics: metrics)
            case .palettization(let config)?:
                let pc = Self.palette(config, axes)
                if let reason = Self.paletteSkip(w, pc) {
                    warnings.append("\(w.name): pruned but not palettized (\(reason))")
                    return prunedAlone()
                }
                // As coremltools: cluster the dense pruned weight (zeros included), store the
                // indices of kept elements only; pruned elements decode to 0 through the mask.
                let dense = pruned.denseBytes()
                let palette = try dense.withUnsafeBytes { dense in
                    Result { () throws(QuantCoreError) in try Palettizer(pc).palettize(dense, type: w.type, shape: w.shape) }
                }.get()
                var reconstructed = palette.dequantized()
                for i in reconstructed.indices where !pruned.isKept(i) { reconstructed[i] = 0 }
                let metrics = reconstructed.withUnsafeBufferPointer { QuantizationErrorMetrics(original: bytes, type: w.type, reconstructed: $0) }
                return Stage(form: .prunedPalettized(pruned, palette, p), metrics: metrics)
            }
        }
    }

    /// A `[K, N]` weight read only as the B input of MatMul (its output axis N).
    static func readsAsMatMulB(_ w: WeightCandidate) -> Bool {
        w.opType == "MatMul" && w.shape.count == 2 && w.outputAxis == 1
    }

    /// onnxruntime's quantizer for a per-block config along K, or nil when MatMulNBits cannot
    /// express it.
    static func matMulNBits(_ c: LinearQuantizationConfig) -> MatMulNBitsQuantizer? {
        guard c.granularity == .perBlock, case .alongInputAxis(let block) = c.blockSize else { return nil }
        return try? MatMulNBitsQuantizer(bits: c.dtype.bitWidth, blockSize: block, isSymmetric: c.mode == .linearSymmetric)
    }

    /// The linear config with the weight's channel axes.
    static func linear(_ config: LinearQuantizationConfig, _ axes: (output: Int, input: Int)) -> LinearQuantizationConfig {
        var c = config
        c.outputAxis = axes.output
        c.inputAxis = axes.input
        return c
    }

    /// The palette config on the weight's output axis, as coremltools' `infer_block_sizes`:
    /// a config's own `channel_axis` counts for per_grouped_channel only (per-channel scales
    /// and vectors of a per_tensor LUT run along the output axis).
    static func palette(_ config: PalettizationConfig, _ axes: (output: Int, input: Int)) -> PalettizationConfig {
        var c = config
        if c.granularity != .perGroupedChannel || c.channelAxis == nil { c.channelAxis = axes.output }
        return c
    }

    /// Why linear quantization leaves this weight alone, as coremltools would; nil to quantize.
    static func linearSkip(_ w: WeightCandidate, _ c: LinearQuantizationConfig) -> SkipReason? {
        guard c.applies(toShape: w.shape) else { return .belowWeightThreshold(elements: w.elementCount, threshold: c.weightThreshold) }
        do {
            for (dim, block) in zip(w.shape, try c.blockSizes(for: w.shape)) where block > 0 && dim % block != 0 {
                return .blockMismatch("block size \(block) does not divide dimension \(dim)")
            }
        } catch {
            return .blockMismatch("\(error)")
        }
        return nil
    }

    /// Why palettization leaves this weight alone, as coremltools would; nil to palettize.
    /// (Layouts that do not divide are refused before the job runs: `preflight`.)
    static func paletteSkip(_ w: WeightCandidate, _ c: PalettizationConfig) -> SkipReason? {
        guard c.applies(toShape: w.shape) else { return .belowWeightThreshold(elements: w.elementCount, threshold: c.weightThreshold) }
        // coremltools' `is_cluster_dim_valid`: a grouped conv's groups each see their share.
        if c.clusterDim > 1, w.convolutionGroups > 1, let axis = c.channelAxis, axis >= 0, axis < w.shape.count {
            let channels = axis == 0 ? w.shape[0] / w.convolutionGroups : w.shape[axis]
            if channels % c.clusterDim != 0 {
                return .paletteLayout("cluster_dim \(c.clusterDim) does not divide the \(channels) channels each of its convolution's \(w.convolutionGroups) groups holds")
            }
        }
        do { _ = try c.resolvedGroupSize(shape: w.shape) } catch {
            return .paletteLayout("\(error)")
        }
        return nil
    }
}
