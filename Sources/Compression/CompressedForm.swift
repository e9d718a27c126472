import QuantCore

/// What the core made of one weight: the typed value every format writes, the report
/// describes and the estimator costs. Each case holds the numerics' own tensors.
public enum CompressedForm: Sendable, Equatable {
    case unchanged(SkipReason)
    case linear(LinearQuantizedTensor)
    /// Palettized; with `quantizedLUT` the look-up table is itself linearly quantized (joint).
    case palettized(PalettizedTensor, quantizedLUT: LinearQuantizedTensor?)
    case pruned(PrunedTensor, PruningConfig)
    /// Pruned, then the dense pruned weight quantized and the kept codes stored.
    case prunedLinear(SparseLinearQuantizedTensor, PruningConfig)
    /// Pruned, then the dense pruned weight palettized and the kept indices stored.
    case prunedPalettized(PrunedTensor, PalettizedTensor, PruningConfig)
    /// Linear per block along K, with onnxruntime's rounding, for its `MatMulNBits` op: only
    /// when the format asks for it (`WeightCompressor.LinearRule.matMulNBits`).
    case matMulNBits(MatMulNBitsQuantizer.Result, bits: Int, blockSize: Int, symmetric: Bool)

    public var isCompressed: Bool {
        if case .unchanged = self { return false }
        return true
    }

    /// The form in words, for the report's `mode` (the same in every format).
    public var summary: String? {
        switch self {
        case .unchanged: nil
        case .linear(let q): Self.describe(q.config)
        case .palettized(let p, let lut):
            Self.describe(p) + (lut.map { " + LUT linear \($0.config.mode.rawValue) \($0.config.dtype.rawValue)" } ?? "")
        case .pruned(_, let c): "prune \(Self.describe(c))"
        case .prunedLinear(let q, let c): "prune \(Self.describe(c)) + \(Self.describe(q.config))"
        case .prunedPalettized(_, let p, let c): "prune \(Self.describe(c)) + \(Self.describe(p))"
        case .matMulNBits(_, let bits, let blockSize, let symmetric):
            "MatMulNBits \(bits)-bit block \(blockSize) \(symmetric ? "symmetric" : "asymmetric")"
        }
    }

    static func describe(_ c: LinearQuantizationConfig) -> String {
        "linear \(c.mode.rawValue) \(c.dtype.rawValue) \(c.granularity.rawValue)"
    }

    static func describe(_ p: PalettizedTensor) -> String {
        "palettize \(p.config.mode.rawValue) \(p.nbits)-bit \(p.config.granularity.rawValue)"
            + (p.clusterDim > 1 ? " cluster_dim \(p.clusterDim)" : "")
    }

    static func describe(_ p: PruningConfig) -> String {
        switch p.mode {
        case .threshold(let threshold, _): "threshold \(threshold)"
        case .unstructured(let s): "magnitude \(Int((s * 100).rounded()))%"
        case .block(let s, let size, let dim): "block \(size) along dim \(dim) \(Int((s * 100).rounded()))%"
        case .nOfM(let n, let m, let dim): "\(n):\(m) along dim \(dim)"
        }
    }
}
