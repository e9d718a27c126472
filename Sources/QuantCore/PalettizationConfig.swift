/// What palettization to apply, mirroring coremltools' `OpPalettizerConfig` (custom LUT
/// functions aside, which cannot cross a process boundary).
///
/// Coded with coremltools' key names (`nbits`, `group_size`, `channel_axis`, `cluster_dim`,
/// `enable_per_channel_scale`, `weight_threshold`), missing keys taking its defaults;
/// `num_kmeans_workers` is accepted and ignored because all cores are used anyway.
public struct PalettizationConfig: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
        /// LUT from k-means clustering of the weights.
        case kmeans
        /// LUT `[min, min + s, …, max]` with `s = (max − min) / (2^nbits − 1)`.
        case uniform
        /// LUT of the distinct weights, for weights already on a lattice.
        case unique
    }

    public enum Granularity: String, Sendable, Hashable, Codable, CaseIterable {
        case perTensor = "per_tensor"
        case perGroupedChannel = "per_grouped_channel"
    }

    /// coremltools' `_SUPPORTED_NBITS`, in the ascending order unique mode tries them.
    public static let supportedBitWidths = [1, 2, 3, 4, 6, 8]

    public var mode: Mode
    /// Bits per index; required for kmeans and uniform, nil for unique.
    public var nbits: Int?
    public var granularity: Granularity
    /// Channels per LUT for `.perGroupedChannel`; 0 means the whole channel axis.
    public var groupSize: Int
    /// Axis the groups (and vectors, and per-channel scales) run along; only read for
    /// `.perGroupedChannel`, as in coremltools. nil means the output axis, 0 for conv/linear.
    public var channelAxis: Int?
    /// Length of each LUT entry; > 1 palettizes vectors of consecutive channels.
    public var clusterDim: Int
    /// Divide each output channel by its max |w| before palettizing and store that scale.
    public var enablePerChannelScale: Bool
    /// Tensors with at most this many elements stay uncompressed (coremltools' default 2048).
    public var weightThreshold: Int

    public init(
        mode: Mode = .kmeans, nbits: Int? = nil, granularity: Granularity = .perTensor,
        groupSize: Int = 32, channelAxis: Int? = nil, clusterDim: Int = 1,
        enablePerChannelScale: Bool = false, weightThreshold: Int = 2048
    ) {
        self.mode = mode
        self.nbits = nbits
        self.granularity = granularity
        self.groupSize = groupSize
        self.channelAxis = channelAxis
        self.clusterDim = clusterDim
        self.enablePerChannelScale = enablePerChannelScale
        self.weightThreshold = weightThreshold
    }

    /// The checks coremltools makes when the config is built, before any weight is seen.
    public func validate() throws(QuantCoreError) {
        switch (mode, nbits) {
        case (.kmeans, nil), (.uniform, nil):
            throw .missingPaletteBitWidth(mode: mode.rawValue)
        case (.unique, .some):
            throw .unexpectedPaletteBitWidth(mode: mode.rawValue)
        case (_, .some(let bits)) where !Self.supportedBitWidths.contains(bits):
            throw .unsupportedPaletteBitWidth(bits)
        default:
            break
        }
        guard groupSize >= 0 else { throw .invalidGroupSize(groupSize) }
        guard clusterDim >= 1 else { throw .invalidClusterDimension(clusterDim) }
        if mode == .uniform && clusterDim > 1 { throw .uniformVectorPalettization }
    }

    /// Whether a tensor of this shape is worth palettizing: more elements than the threshold,
    /// and at least two axes so that it has channels.
    public func applies(toShape shape: [Int]) -> Bool {
        shape.count >= 2 && shape.reduce(1, *) > weightThreshold
    }

    /// The channel axis for a tensor of rank `rank`, made non-negative.
    public func resolvedChannelAxis(rank: Int) throws(QuantCoreError) -> Int {
        let axis = channelAxis ?? 0
        let normalized = axis < 0 ? axis + rank : axis
        guard normalized >= 0, normalized < rank else { throw .axisOutOfRange(axis: axis, rank: rank) }
        return normalized
    }

    /// Channels per LUT for a tensor of `shape`, checked the way coremltools'
    /// `grouped_channelwise_compress` checks it.
    public func resolvedGroupSize(shape: [Int]) throws(QuantCoreError) -> Int {
        let axis = try resolvedChannelAxis(rank: shape.count)
        let channels = shape[axis]
        let size = granularity == .perGroupedChannel && groupSize != 0 ? groupSize : channels
        guard size > 0, channels % size == 0 else {
            throw .groupSizeDoesNotDivide(axis: axis, dimension: channels, groupSize: size)
        }
        guard size % clusterDim == 0 else {
            throw .clusterDimensionDoesNotDivide(axis: axis, groupSize: size, clusterDimension: clusterDim)
        }
        return size
    }

    private enum CodingKeys: String, CodingKey {
        case mode, nbits, granularity
        case groupSize = "group_size"
        case channelAxis = "channel_axis"
        case clusterDim = "cluster_dim"
        case enablePerChannelScale = "enable_per_channel_scale"
        case weightThreshold = "weight_threshold"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = PalettizationConfig()
        // coremltools upper-cases the mode, so any spelling of it is accepted.
        let modeName = try container.decodeIfPresent(String.self, forKey: .mode)?.lowercased()
        guard let mode = Mode(rawValue: modeName ?? defaults.mode.rawValue) else {
            throw DecodingError.dataCorruptedError(forKey: .mode, in: container,
                                                   debugDescription: "mode must be kmeans, uniform or unique")
        }
        self.init(
            mode: mode,
            nbits: try container.decodeIfPresent(Int.self, forKey: .nbits),
            granularity: try container.decodeIfPresent(Granularity.self, forKey: .granularity) ?? defaults.granularity,
            groupSize: try container.decodeIfPresent(Int.self, forKey: .groupSize) ?? defaults.groupSize,
            channelAxis: try container.decodeIfPresent(Int.self, forKey: .channelAxis),
            clusterDim: try container.decodeIfPresent(Int.self, forKey: .clusterDim) ?? defaults.clusterDim,
            enablePerChannelScale: try container.decodeIfPresent(Bool.self, forKey: .enablePerChannelScale)
                ?? defaults.enablePerChannelScale,
            weightThreshold: try container.decodeIfPresent(Int.self, forKey: .weightThreshold) ?? defaults.weightThreshold)
    }
}
