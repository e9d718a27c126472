/// The latency model's parameters for one kind of compute unit, shared by every device: how
/// close to its peak it runs and how fast it moves bytes, relative to the device's figures.
public struct UnitParameters: Codable, Sendable, Equatable {
    /// Fraction of peak float16 throughput reached on dense convolutions and matrix products.
    public var efficiency: Figure
    /// Fraction of peak reached on depthwise convolutions.
    public var depthwiseEfficiency: Figure
    /// Effective activation bandwidth as a multiple of DRAM bandwidth (on-chip buffers
    /// and caches make it larger than 1).
    public var activationBandwidthFactor: Figure
    /// Effective weight bandwidth as a multiple of DRAM bandwidth (prefetch overlaps it).
    public var weightBandwidthFactor: Figure
    /// Time to expand one compressed weight as the op runs, nanoseconds (just-in-time units).
    public var decompressionNanosecondsPerWeight: Figure
    /// Cost of dispatching one op, microseconds.
    public var opOverheadMicroseconds: Figure
    /// Cost of one inference beyond its ops, milliseconds.
    public var fixedOverheadMilliseconds: Figure
    /// Weight density at or below which the unit skips the products of pruned weights (0 =
    /// never): Apple's guidance gives 75% sparsity for the Neural Engine.
    public var sparseSkipDensity: Figure
    /// Whether a just-in-time unit reads compressed weights from memory as stored (false: the
    /// runtime expands them to float16 ahead of the op, so compression saves no traffic; the
    /// iOS 17 Neural Engine, whose published rows show no gain from any weight compression).
    public var streamsCompressedWeights: Bool

    enum CodingKeys: String, CodingKey {
        case efficiency
        case depthwiseEfficiency = "depthwise_efficiency"
        case activationBandwidthFactor = "activation_bandwidth_factor"
        case weightBandwidthFactor = "weight_bandwidth_factor"
        case decompressionNanosecondsPerWeight = "decompression_ns_per_weight"
        case opOverheadMicroseconds = "op_overhead_us"
        case fixedOverheadMilliseconds = "fixed_overhead_ms"
        case sparseSkipDensity = "sparse_skip_density", streamsCompressedWeights = "streams_compressed_weights"
    }
}

/// What the iOS 18 runtime changed in the Neural Engine's handling of weights, over the iOS 17
/// parameters: how fast it streams them (weight compression now shortens weight-bound ops),
/// what expanding a compressed weight costs, and at what density it skips pruned products.
public struct RuntimeChanges: Codable, Sendable, Equatable {
    public var weightBandwidthFactor: Figure
    public var decompressionNanosecondsPerWeight: Figure
    public var sparseSkipDensity: Figure
    public var streamsCompressedWeights: Bool

    enum CodingKeys: String, CodingKey {
        case weightBandwidthFactor = "weight_bandwidth_factor"
        case decompressionNanosecondsPerWeight = "decompression_ns_per_weight"
        case sparseSkipDensity = "sparse_skip_density", streamsCompressedWeights = "streams_compressed_weights"
    }

    func applied(to unit: UnitParameters) -> UnitParameters {
        var u = unit
        u.weightBandwidthFactor = weightBandwidthFactor
        u.decompressionNanosecondsPerWeight = decompressionNanosecondsPerWeight
        u.sparseSkipDensity = sparseSkipDensity
        u.streamsCompressedWeights = streamsCompressedWeights
        return u
    }
}

public struct LatencyParameters: Codable, Sendable, Equatable {
    /// The Neural Engine under iOS 17 / macOS 14.
    public var neuralEngine: UnitParameters
    /// The Neural Engine under iOS 18 / macOS 15, as changes to the iOS 17 parameters.
    public var neuralEngineIOS18: RuntimeChanges
    public var gpu: UnitParameters
    public var cpu: UnitParameters
    /// Cost of handing activations from one compute unit to another when ops fall back, µs.
    public var transitionMicroseconds: Figure
    /// Fraction of DRAM bandwidth a token-by-token decoder streams its weights at (weights
    /// far larger than any cache).
    public var decodeBandwidthEfficiency: Figure

    enum CodingKeys: String, CodingKey {
        case neuralEngine = "neural_engine", gpu, cpu, neuralEngineIOS18 = "neural_engine_ios18"
        case transitionMicroseconds = "transition_us", decodeBandwidthEfficiency = "decode_bandwidth_efficiency"
    }

    public func unit(_ kind: ProcessorKind, os: OSRelease) -> UnitParameters {
        switch kind {
        case .neuralEngine: os >= .iOS18 ? neuralEngineIOS18.applied(to: neuralEngine) : neuralEngine
        case .gpu: gpu
        case .cpu: cpu
        }
    }
}

/// A processor of a device.
public enum ProcessorKind: String, Sendable, Codable, CaseIterable {
    case neuralEngine = "neural_engine", gpu, cpu
}

/// The compute-unit choices of Core ML's `MLComputeUnits`.
public enum ComputeUnits: String, Sendable, Codable, CaseIterable {
    case cpuOnly, cpuAndGPU, cpuAndNeuralEngine, all

    /// Where ops run by default, and where those the default cannot run fall back to.
    var placement: (primary: ProcessorKind, fallback: ProcessorKind) {
        switch self {
        case .cpuOnly: (.cpu, .cpu)
        case .cpuAndGPU: (.gpu, .cpu)
        case .cpuAndNeuralEngine: (.neuralEngine, .cpu)
        case .all: (.neuralEngine, .gpu)
        }
    }
}
