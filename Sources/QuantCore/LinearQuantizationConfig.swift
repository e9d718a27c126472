/// What linear quantization to apply, mirroring coremltools' `OpLinearQuantizerConfig`.
///
/// Every granularity reduces to one block size per axis (`blockSizes(for:)`), exactly as
/// coremltools' `infer_block_sizes` does for conv and linear weights.
public struct LinearQuantizationConfig: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
        /// Range `[-max|w|, max|w|]`; no zero point for signed types.
        case linearSymmetric = "linear_symmetric"
        /// Range `[min(w, 0), max(w, 0)]` with a zero point.
        case linear
    }

    public enum DType: String, Sendable, Hashable, Codable, CaseIterable {
        case int8, uint8, int4, uint4

        public var bitWidth: Int { self == .int8 || self == .uint8 ? 8 : 4 }
        public var isSigned: Bool { self == .int8 || self == .int4 }
    }

    public enum Granularity: String, Sendable, Hashable, Codable, CaseIterable {
        case perTensor = "per_tensor"
        case perChannel = "per_channel"
        case perBlock = "per_block"
    }

    /// coremltools' `block_size`: an int applies along the input axis (1 along the output
    /// axis, whole extent elsewhere); a list gives every axis its size, 0 meaning the whole axis.
    public enum BlockSize: Sendable, Hashable, Codable {
        case alongInputAxis(Int)
        case perAxis([Int])

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let size = try? container.decode(Int.self) {
                self = .alongInputAxis(size)
            } else {
                self = .perAxis(try container.decode([Int].self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .alongInputAxis(let size): try container.encode(size)
            case .perAxis(let sizes): try container.encode(sizes)
            }
        }
    }

    public var mode: Mode
    public var dtype: DType
    public var granularity: Granularity
    /// Only read for `.perBlock`.
    public var blockSize: BlockSize
    /// Output-channel axis: 0 for conv `[C_out, C_in, …]` and linear `[D_out, D_in]` weights.
    public var outputAxis: Int
    /// Input-channel axis: 1 for conv and linear weights.
    public var inputAxis: Int
    /// Tensors with at most this many elements stay uncompressed (coremltools' default 2048).
    public var weightThreshold: Int

    public init(
        mode: Mode = .linearSymmetric, dtype: DType = .int8, granularity: Granularity = .perChannel,
        blockSize: BlockSize = .alongInputAxis(32), outputAxis: Int = 0, inputAxis: Int = 1,
        weightThreshold: Int = 2048
    ) {
        self.mode = mode
        self.dtype = dtype
        self.granularity = granularity
        self.blockSize = blockSize
        self.outputAxis = outputAxis
        self.inputAxis = inputAxis
        self.weightThreshold = weightThreshold
    }

    /// Whether a tensor of this shape is worth quantizing: more elements than the threshold,
    /// and at least two axes so that it has channels.
    public func applies(toShape shape: [Int]) -> Bool {
        shape.count >= 2 && shape.reduce(1, *) > weightThreshold
    }

    /// The integer range, as coremltools' `get_quant_range`: symmetric mode gives up the most
    /// negative code of signed types and the largest code of unsigned types.
    public var quantizedRange: ClosedRange<Int> {
        let levels = 1 << dtype.bitWidth
        switch (dtype.isSigned, mode) {
        case (true, .linearSymmetric): return (-levels / 2 + 1)...(levels / 2 - 1)
        case (true, .linear): return (-levels / 2)...(levels / 2 - 1)
        case (false, .linearSymmetric): return 0...(levels - 2)
        case (false, .linear): return 0...(levels - 1)
        }
    }

    /// Block size on each axis of a tensor of `shape`, 0 meaning the whole axis.
    public func blockSizes(for shape: [Int]) throws(QuantCoreError) -> [Int] {
        if granularity == .perBlock, case .perAxis(let sizes) = blockSize {
            guard sizes.count == shape.count else {
                throw .blockSizeRankMismatch(blockSizes: sizes.count, rank: shape.count)
            }
            return sizes
        }
        let output = try Self.normalized(outputAxis, rank: shape.count)
        let input = try Self.normalized(inputAxis, rank: shape.count)
        var sizes = [Int](repeating: 0, count: shape.count)
        switch granularity {
        case .perTensor:
            break
        case .perChannel:
            sizes[output] = 1
        case .perBlock:
            guard case .alongInputAxis(let size) = blockSize else { break }
            sizes[input] = size
            sizes[output] = 1
        }
        return sizes
    }

    private static func normalized(_ axis: Int, rank: Int) throws(QuantCoreError) -> Int {
        let normalized = axis < 0 ? axis + rank : axis
        guard normalized >= 0, normalized < rank else { throw .axisOutOfRange(axis: axis, rank: rank) }
        return normalized
    }
}
