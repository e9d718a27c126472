import QuantCore

/// Why a weight is left as it is: the one list every format reports from, so a weight a
/// coremltools pass would skip is skipped, and said so, the same way in each.
public enum SkipReason: Sendable, Equatable, CustomStringConvertible {
    /// The config gives it no stage (`null` in op_name/op_type configs, or no global config).
    case excludedByConfig
    case notFloatingPoint(ScalarType)
    case rankBelowTwo(Int)
    /// The format found no op that reads it.
    case noConsumer
    /// Already the input of a decompression op (a model compressed before).
    case alreadyDecompressed
    /// Ops that read it need different output-channel axes.
    case consumersDisagreeOnAxis
    /// A format's own reason (e.g. read inside an ONNX subgraph).
    case formatRule(String)
    case belowWeightThreshold(elements: Int, threshold: Int)
    /// Per-block quantization whose blocks do not tile the weight.
    case blockMismatch(String)
    /// A palette layout (group size, cluster_dim) that does not fit the weight.
    case paletteLayout(String)
    case pruner(Pruner.SkipReason)
    /// NaN or infinite values: compressing would spread them.
    case nonFinite(QuantCoreError)

    public var description: String {
        switch self {
        case .excludedByConfig: "excluded by the config"
        case .notFloatingPoint(let type): "\(type.rawValue) is not a floating-point type"
        case .rankBelowTwo(let rank): "rank \(rank) < 2"
        case .noConsumer: "no op reads it"
        case .alreadyDecompressed: "already feeds a constexpr op"
        case .consumersDisagreeOnAxis: "its consumers need different output axes"
        case .formatRule(let reason): reason
        case .belowWeightThreshold(let elements, let threshold): "\(elements) elements ≤ weight_threshold \(threshold)"
        case .blockMismatch(let reason): reason
        case .paletteLayout(let reason): reason
        case .pruner(let reason): reason.description
        case .nonFinite(let error): error.description
        }
    }

    /// Skips a user should hear about in the job's warnings, not only in the weight's line.
    var isWarned: Bool {
        switch self {
        case .blockMismatch, .nonFinite: true
        default: false
        }
    }
}
