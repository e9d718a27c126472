import Compression

extension StoredWeightForm {
    /// How the core's form is stored, for cost estimates; `denseBits` is the weight's float width.
    public init(_ form: CompressedForm, denseBits: Int) {
        switch form {
        case .unchanged:
            self = .dense(bits: denseBits)
        case .linear(let q):
            self.init(kind: .linear, bits: q.config.dtype.bitWidth, perBlock: q.config.granularity == .perBlock)
        case .palettized(let p, _):
            self.init(kind: .palettized, bits: p.nbits, grouped: p.config.granularity == .perGroupedChannel)
        case .pruned(let p, _):
            self.init(kind: .dense, bits: denseBits, density: 1 - p.sparsity)
        case .prunedLinear(let q, _):
            self.init(kind: .linear, bits: q.config.dtype.bitWidth, perBlock: q.config.granularity == .perBlock,
                      density: Double(q.nonZeroCount) / Double(max(1, q.shape.reduce(1, *))))
        case .prunedPalettized(let pruned, let p, _):
            self.init(kind: .palettized, bits: p.nbits, grouped: p.config.granularity == .perGroupedChannel, density: 1 - pruned.sparsity)
        case .matMulNBits(_, let bits, _, _):
            self.init(kind: .linear, bits: bits, perBlock: true)
        }
    }
}
