/// Weight pruning with coremltools' exact semantics (`prune_weights.compress_by_threshold`,
/// `compress_by_magnitude`, `compress_by_nm_sparsity`).
///
/// - threshold: drop `|w| ≤ threshold`, the threshold rounded to the weight's dtype first (numpy
///   compares a Python float against a float16 array in float16).
/// - magnitude: drop `|w| ≤ np.percentile(|w|, 100 · target)`. The rule is a threshold, so ties
///   at the cut are all dropped together and no sort order is involved; the percentile
///   interpolates in the weight's dtype (`NumpyPercentile`).
/// - block: the same, on each element's block L2 norm (`BlockSparsity`).
/// - n:m: drop the n smallest of every m along `dim` (`NOfMSparsity`).
///
/// In every mode an element is kept only if it is also non-zero, because coremltools builds the
/// mask as `pruned != 0`.
///
/// Deliberate differences:
/// - float16 tensors of more than 65520 elements: numpy 2 computes the percentile index
///   `(n − 1) · q` in float16, where `n − 1` overflows to infinity, so coremltools gets a NaN
///   threshold and prunes nothing. Here the percentile is computed in float32 instead, which is
///   what coremltools does for the same weights stored as float32.
/// - inf or NaN weights are refused by the magnitude modes (their order makes the percentile
///   NaN and n:m store NaN); threshold pruning keeps them, as coremltools does.
public struct Pruner: Sendable {
    public let config: PruningConfig

    public init(_ config: PruningConfig) {
        self.config = config
    }

    /// Why coremltools leaves a weight dense.
    public enum SkipReason: Sendable, Equatable, CustomStringConvertible {
        /// Rank ≤ 1, or no more elements than `weight_threshold`.
        case notApplicable(shape: [Int], weightThreshold: Int)
        /// Block and n:m pruning need a weight of rank 2 to 5.
        case structuredRankUnsupported(rank: Int)
        /// Threshold pruning zeroed too little to be worth a sparse encoding.
        case belowMinimumSparsity(sparsity: Double, minimum: Double)
        /// coremltools refuses `block_size > channels / 2` along `dim`.
        case blockTooLarge(blockSize: Int, channels: Int)
        /// coremltools refuses `m > channels / 2` along `dim`.
        case groupTooLarge(m: Int, channels: Int)

        public var description: String {
            switch self {
            case .notApplicable(let shape, let weightThreshold):
                "shape \(shape) has rank ≤ 1 or at most weight_threshold (\(weightThreshold)) elements"
            case .structuredRankUnsupported(let rank):
                "block and n:m pruning need a rank 2 to 5 weight, got rank \(rank)"
            case .belowMinimumSparsity(let sparsity, let minimum):
                "sparsity \(sparsity) after thresholding is below minimum_sparsity_percentile \(minimum)"
            case .blockTooLarge(let blockSize, let channels):
                "block_size \(blockSize) is more than half of the \(channels) channels along dim"
            case .groupTooLarge(let m, let channels):
                "m = \(m) is more than half of the \(channels) channels along dim"
            }
        }
    }

    public enum Outcome: Sendable, Equatable {
        case pruned(PrunedTensor)
        case skipped(SkipReason)

        public var tensor: PrunedTensor? {
            if case .pruned(let tensor) = self { return tensor }
            return nil
        }
    }

    /// Prunes little-endian weights of a floating `type`, or says why coremltools would not.
    public func outcome(
        _ bytes: UnsafeRawBufferPointer, type: ScalarType, shape: [Int]
    ) throws(QuantCoreError) -> Outcome {
        guard type.isFloatingPoint else { throw .notFloatingPoint(type) }
        let count = shape.reduce(1, *)
        guard bytes.count == count * type.byteWidth else {
            throw .sizeMismatch(expected: count * type.byteWidth, actual: bytes.count)
        }
        guard config.applies(toShape: shape), let base = bytes.baseAddress else {
            return .skipped(.notApplicable(shape: shape, weightThreshold: config.weightThreshold))
        }
        let plan = Plan(mode: config.mode, type: type, shape: shape, bytes: bytes)
        return try withWeightSource(type, base, plan).get()
    }

    /// The pruned tensor, or nil where coremltools leaves the weight dense (`outcome` says why).
    public func prune(
        _ bytes: UnsafeRawBufferPointer, type: ScalarType, shape: [Int]
    ) throws(QuantCoreError) -> PrunedTensor? {
        try outcome(bytes, type: type, shape: shape).tensor
    }
}

extension Pruner {
    struct Plan: WeightSourceVisitor {
        let mode: PruningConfig.Mode
        let type: ScalarType
        let shape: [Int]
        let bytes: UnsafeRawBufferPointer

        var count: Int { shape.reduce(1, *) }

        func visit<Source: WeightSource>(_ source: Source) -> Result<Outcome, QuantCoreError> {
            switch mode {
            case .threshold(let threshold, let minimumSparsity):
                return .success(byThreshold(source, threshold: threshold, minimumSparsity: minimumSparsity))
            case .unstructured(let targetSparsity):
                return byMagnitude(source, targetSparsity: targetSparsity)
            case .block(let targetSparsity, let blockSize, let dim):
                guard (2...5).contains(shape.count) else { return .success(.skipped(.structuredRankUnsupported(rank: shape.count))) }
                let layout = ChannelLayout(shape: shape, dim: dim)
                guard Double(blockSize) <= Double(layout.channels) / 2 else {
                    return .success(.skipped(.blockTooLarge(blockSize: blockSize, channels: layout.channels)))
                }
                let blocks = BlockSparsity(layout: layout, blockSize: blockSize, arithmetic: DTypeArithmetic(type))
                return blocks.keepFlags(source, targetSparsity: targetSparsity,
                                        percentileArithmetic: percentileArithmetic)
                    .map { flags in .pruned(compact(flags)) }
            case .nOfM(let n, let m, let dim):
                guard (2...5).contains(shape.count) else { return .success(.skipped(.structuredRankUnsupported(rank: shape.count))) }
                let layout = ChannelLayout(shape: shape, dim: dim)
                guard Double(m) <= Double(layout.channels) / 2 else {
                    return .success(.skipped(.groupTooLarge(m: m, channels: layout.channels)))
                }
                return NOfMSparsity(layout: layout, n: n, m: m).keepFlags(source)
                    .map { flags in .pruned(compact(flags)) }
            }
        }

        /// numpy's dtype for the percentile, except where float16 makes its index overflow.
        var percentileArithmetic: DTypeArithmetic {
            type == .float16 && count - 1 >= 65520 ? .float32 : DTypeArithmetic(type)
        }

        private func byThreshold<Source: WeightSource>(
            _ source: Source, threshold: Double, minimumSparsity: Double
        ) -> Outcome {
            let limit = MagnitudeKeys.largestKey(of: source, notAbove: DTypeArithmetic(type).rounded(threshold))
            let mask = MaskCompaction.mask(count: count, rule: KeyAbove(source: source, limit: limit))
            let sparsity = Double(count - mask.nonZeroCount) / Double(count)
            guard sparsity >= minimumSparsity else {
                return .skipped(.belowMinimumSparsity(sparsity: sparsity, minimum: minimumSparsity))
            }
            return .pruned(tensor(mask))
        }

        private func byMagnitude<Source: WeightSource>(
            _ source: Source, targetSparsity: Double
        ) -> Result<Outcome, QuantCoreError> {
            let items = ElementMagnitudes(source: source, itemCount: count)
            let percentile = NumpyPercentile(count: count, percent: targetSparsity * 100, arithmetic: percentileArithmetic)
            let keys = RankSelection.keys(atRanks: [count - 1, percentile.lowerRank, percentile.upperRank], of: items)
            guard source.magnitude(ofKey: keys[0]).isFinite else { return .failure(.nonFiniteMagnitude) }
            let limit = MagnitudeKeys.limit(targetSparsity: targetSparsity) {
                let cut = percentile.value(lower: source.magnitude(ofKey: keys[1]), upper: source.magnitude(ofKey: keys[2]))
                return MagnitudeKeys.largestKey(of: source, notAbove: cut)
            }
            let mask = MaskCompaction.mask(count: count, rule: KeyAbove(source: source, limit: limit))
            return .success(.pruned(tensor(mask)))
        }

        private func compact(_ flags: [Bool]) -> PrunedTensor {
            flags.withUnsafeBufferPointer { flags in
                tensor(MaskCompaction.mask(count: count, rule: KeepFlags(flags: flags)))
            }
        }

        private func tensor(_ mask: MaskCompaction.Mask) -> PrunedTensor {
            PrunedTensor(shape: shape, type: type, mask: mask.bytes, nonZeroCount: mask.nonZeroCount,
                         values: MaskCompaction.gather(bytes, width: type.byteWidth, mask: mask))
        }
    }
}

/// Magnitude-key helpers shared by the pruning modes.
enum MagnitudeKeys {
    /// The largest key whose magnitude is at most `limit`, or −1 if none is (including a NaN
    /// limit, against which numpy's `<=` is false).
    static func largestKey<Source: WeightSource>(of source: Source, notAbove limit: Float) -> Int {
        largestKey(bits: Source.magnitudeKeyBits, notAbove: limit, magnitude: source.magnitude(ofKey:))
    }

    /// Binary search over a key space: magnitudes rise with the key up to infinity, and NaN
    /// keys above it compare false.
    static func largestKey(bits: Int, notAbove limit: Float, magnitude: (UInt32) -> Float) -> Int {
        var low = -1
        var high = (1 << bits) - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if magnitude(UInt32(middle)) <= limit { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The key limit for a target sparsity, as coremltools branches on `q = 100 · target`:
    /// everything at 100, nothing at 0, the percentile cut otherwise.
    static func limit(targetSparsity: Double, cut: () -> Int) -> Int {
        let percent = targetSparsity * 100
        if percent == 100 { return Int(UInt32.max) }
        if percent == 0 { return 0 }
        return cut()
    }
}

/// Every element as a rank-selection item of weight 1.
struct ElementMagnitudes<Source: WeightSource>: WeightedKeys {
    let source: Source
    let itemCount: Int
    var keyBits: Int { Source.magnitudeKeyBits }
    @inline(__always) func key(at item: Int) -> UInt32 { source.magnitudeKey(at: item) }
    @inline(__always) func weight(at item: Int) -> Int { 1 }
}

/// Keeps elements whose magnitude key exceeds `limit` (and zero never, whatever the limit).
struct KeyAbove<Source: WeightSource>: KeepRule {
    let source: Source
    let limit: UInt32

    init(source: Source, limit: Int) {
        self.source = source
        self.limit = UInt32(clamping: max(limit, 0))
    }

    @inline(__always) func isKept(_ index: Int) -> Bool { source.magnitudeKey(at: index) > limit }
}

/// Keeps what a flag per element says.
struct KeepFlags: KeepRule {
    let flags: UnsafeBufferPointer<Bool>
    @inline(__always) func isKept(_ index: Int) -> Bool { flags[index] }
}

/// A tensor seen as `[outer, channels, inner]` around the pruning axis `dim`.
struct ChannelLayout: Equatable {
    let outer: Int
    let channels: Int
    let inner: Int

    init(shape: [Int], dim: Int) {
        outer = shape[..<dim].reduce(1, *)
        channels = shape[dim]
        inner = shape[(dim + 1)...].reduce(1, *)
    }
}
