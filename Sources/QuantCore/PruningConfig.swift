import Foundation

/// What pruning to apply, mirroring coremltools' `OpThresholdPrunerConfig` and
/// `OpMagnitudePrunerConfig`, validated by the same rules when built.
///
/// The magnitude config's four optional fields collapse into the one `Mode` they can mean,
/// with `dim` already defaulted (0 for block sparsity, 1 for n:m) as its `__attrs_post_init__` does.
public struct PruningConfig: Sendable, Hashable {
    public enum Mode: Sendable, Hashable {
        /// Zero every weight with `|w| ≤ threshold`; leave the tensor dense unless at least
        /// `minimumSparsity` of it is then zero.
        case threshold(threshold: Double, minimumSparsity: Double)
        /// Zero the `targetSparsity` fraction of weights with the smallest magnitude.
        case unstructured(targetSparsity: Double)
        /// Rank runs of `blockSize` weights along `dim` by their L2 norm and zero the smallest.
        case block(targetSparsity: Double, blockSize: Int, dim: Int)
        /// In every run of `m` weights along `dim`, zero the `n` smallest.
        case nOfM(n: Int, m: Int, dim: Int)
    }

    /// A config coremltools would refuse, naming the offending field as coremltools spells it.
    public enum Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        case negativeThreshold(Double)
        case minimumSparsityOutOfRange(Double)
        case targetSparsityAndNMRatio
        case neitherTargetSparsityNorNMRatio
        case targetSparsityOutOfRange(Double)
        case blockSizeWithNMRatio
        case blockSizeTooSmall(Int)
        case invalidNMRatio(n: Int, m: Int)
        case dimWithoutStructure
        case dimOutOfRange(Int)
        case negativeWeightThreshold(Int)
        case unknownKey(String, configType: String)
        case wrongType(field: String, expected: String)
        case unknownConfigType(String)

        /// The config key at fault.
        public var field: String {
            switch self {
            case .negativeThreshold: "threshold"
            case .minimumSparsityOutOfRange: "minimum_sparsity_percentile"
            case .targetSparsityAndNMRatio, .neitherTargetSparsityNorNMRatio, .targetSparsityOutOfRange: "target_sparsity"
            case .blockSizeWithNMRatio, .blockSizeTooSmall: "block_size"
            case .invalidNMRatio: "n_m_ratio"
            case .dimWithoutStructure, .dimOutOfRange: "dim"
            case .negativeWeightThreshold: "weight_threshold"
            case .unknownKey(let key, _): key
            case .wrongType(let field, _): field
            case .unknownConfigType: "config_type"
            }
        }

        public var description: String {
            switch self {
            case .negativeThreshold(let value):
                "threshold \(value) is negative; it must be in [0, inf)"
            case .minimumSparsityOutOfRange(let value):
                "minimum_sparsity_percentile \(value) must be in [0, 1]"
            case .targetSparsityAndNMRatio:
                "target_sparsity and n_m_ratio cannot both be set; pick one"
            case .neitherTargetSparsityNorNMRatio:
                "set either target_sparsity or n_m_ratio"
            case .targetSparsityOutOfRange(let value):
                "target_sparsity \(value) must be in [0, 1]"
            case .blockSizeWithNMRatio:
                "block_size and n_m_ratio cannot both be set; block sparsity takes target_sparsity"
            case .blockSizeTooSmall(let value):
                "block_size must be an integer > 1, got \(value)"
            case .invalidNMRatio(let n, let m):
                "n_m_ratio must be two integers (n, m) with 0 ≤ n ≤ m and m ≥ 1, got (\(n), \(m))"
            case .dimWithoutStructure:
                "dim can only be set along with block_size or n_m_ratio"
            case .dimOutOfRange(let value):
                "dim must be 0 or 1, got \(value)"
            case .negativeWeightThreshold(let value):
                "weight_threshold must be a non-negative integer, got \(value)"
            case .unknownKey(let key, let configType):
                "unknown key '\(key)' for \(configType)"
            case .wrongType(let field, let expected):
                "\(field) must be \(expected)"
            case .unknownConfigType(let type):
                "'\(type)' is not a pruner config; use OpThresholdPrunerConfig or OpMagnitudePrunerConfig"
            }
        }
    }

    public let mode: Mode
    /// Tensors with at most this many elements stay dense (coremltools' default 2048).
    public let weightThreshold: Int

    /// `OpThresholdPrunerConfig`. The threshold stays a `Double` because coremltools rounds the
    /// Python float straight to the weight's dtype; going through `Float` would round twice.
    public static func threshold(
        threshold: Double = 1e-12, minimumSparsityPercentile: Double = 0.5, weightThreshold: Int = 2048
    ) throws(Invalid) -> PruningConfig {
        guard threshold >= 0 else { throw .negativeThreshold(threshold) }
        guard (0...1).contains(minimumSparsityPercentile) else {
            throw .minimumSparsityOutOfRange(minimumSparsityPercentile)
        }
        guard weightThreshold >= 0 else { throw .negativeWeightThreshold(weightThreshold) }
        return PruningConfig(mode: .threshold(threshold: threshold, minimumSparsity: minimumSparsityPercentile),
                             weightThreshold: weightThreshold)
    }

    /// `OpMagnitudePrunerConfig`, checked in the order of its attrs validators.
    public static func magnitude(
        targetSparsity: Double? = nil, blockSize: Int? = nil, nmRatio: (n: Int, m: Int)? = nil,
        dim: Int? = nil, weightThreshold: Int = 2048
    ) throws(Invalid) -> PruningConfig {
        if targetSparsity != nil && nmRatio != nil { throw .targetSparsityAndNMRatio }
        if targetSparsity == nil && nmRatio == nil { throw .neitherTargetSparsityNorNMRatio }
        if let targetSparsity, !(0...1).contains(targetSparsity) { throw .targetSparsityOutOfRange(targetSparsity) }
        if blockSize != nil && nmRatio != nil { throw .blockSizeWithNMRatio }
        if let blockSize, blockSize <= 1 { throw .blockSizeTooSmall(blockSize) }
        // coremltools only checks n ≤ m; a negative n or m = 0 crashes its pass instead.
        if let ratio = nmRatio, ratio.n > ratio.m || ratio.n < 0 || ratio.m < 1 {
            throw .invalidNMRatio(n: ratio.n, m: ratio.m)
        }
        if let dim {
            if blockSize == nil && nmRatio == nil { throw .dimWithoutStructure }
            if dim != 0 && dim != 1 { throw .dimOutOfRange(dim) }
        }
        guard weightThreshold >= 0 else { throw .negativeWeightThreshold(weightThreshold) }

        let mode: Mode
        if let ratio = nmRatio {
            mode = .nOfM(n: ratio.n, m: ratio.m, dim: dim ?? 1)
        } else if let blockSize, let targetSparsity {
            mode = .block(targetSparsity: targetSparsity, blockSize: blockSize, dim: dim ?? 0)
        } else {
            mode = .unstructured(targetSparsity: targetSparsity ?? 0)
        }
        return PruningConfig(mode: mode, weightThreshold: weightThreshold)
    }

    /// Whether a tensor of this shape is worth pruning: coremltools skips rank ≤ 1 constants
    /// and those with no more elements than the threshold.
    public func applies(toShape shape: [Int]) -> Bool {
        shape.count >= 2 && shape.reduce(1, *) > weightThreshold
    }
}

extension PruningConfig {
    static let thresholdKeys: Set = ["threshold", "minimum_sparsity_percentile", "weight_threshold"]
    static let magnitudeKeys: Set = ["target_sparsity", "block_size", "n_m_ratio", "dim", "weight_threshold"]

    /// One op config in coremltools' dictionary form (a decoded JSON/YAML object), for
    /// `config_type` `OpThresholdPrunerConfig` or `OpMagnitudePrunerConfig`. Missing keys take
    /// coremltools' defaults; integers are accepted for floats, as cattrs converts them.
    public init(dictionary: [String: Any], configType: String) throws(Invalid) {
        let known: Set<String>
        switch configType {
        case "OpThresholdPrunerConfig": known = Self.thresholdKeys
        case "OpMagnitudePrunerConfig": known = Self.magnitudeKeys
        default: throw .unknownConfigType(configType)
        }
        if let unknown = dictionary.keys.sorted().first(where: { !known.contains($0) }) {
            throw .unknownKey(unknown, configType: configType)
        }
        func number(_ key: String) throws(Invalid) -> Double? {
            guard let value = dictionary[key], !(value is NSNull) else { return nil }
            guard let number = value as? NSNumber, !Self.isBoolean(number) else {
                throw .wrongType(field: key, expected: "a number")
            }
            return number.doubleValue
        }
        func integer(_ value: Any?, _ key: String) throws(Invalid) -> Int? {
            guard let value, !(value is NSNull) else { return nil }
            guard let number = value as? NSNumber, !Self.isBoolean(number),
                  number.doubleValue.rounded() == number.doubleValue, abs(number.doubleValue) < 1e15 else {
                throw .wrongType(field: key, expected: "an integer")
            }
            return number.intValue
        }
        let weightThreshold = try integer(dictionary["weight_threshold"], "weight_threshold") ?? 2048
        if configType == "OpThresholdPrunerConfig" {
            self = try .threshold(threshold: number("threshold") ?? 1e-12,
                                  minimumSparsityPercentile: number("minimum_sparsity_percentile") ?? 0.5,
                                  weightThreshold: weightThreshold)
            return
        }
        var ratio: (n: Int, m: Int)?
        if let raw = dictionary["n_m_ratio"], !(raw is NSNull) {
            guard let pair = raw as? [Any], pair.count == 2 else {
                throw .wrongType(field: "n_m_ratio", expected: "a list of two integers [n, m]")
            }
            guard let n = try integer(pair[0], "n_m_ratio"), let m = try integer(pair[1], "n_m_ratio") else {
                throw .wrongType(field: "n_m_ratio", expected: "a list of two integers [n, m]")
            }
            ratio = (n, m)
        }
        self = try .magnitude(targetSparsity: number("target_sparsity"),
                              blockSize: integer(dictionary["block_size"], "block_size"),
                              nmRatio: ratio, dim: integer(dictionary["dim"], "dim"),
                              weightThreshold: weightThreshold)
    }

    /// Foundation bridges JSON booleans to NSNumber too; coremltools rejects them.
    private static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// The dictionary form again, with the inferred `dim` and every default spelled out.
    public var dictionary: [String: Any] {
        switch mode {
        case .threshold(let threshold, let minimumSparsity):
            ["threshold": threshold, "minimum_sparsity_percentile": minimumSparsity, "weight_threshold": weightThreshold]
        case .unstructured(let targetSparsity):
            ["target_sparsity": targetSparsity, "weight_threshold": weightThreshold]
        case .block(let targetSparsity, let blockSize, let dim):
            ["target_sparsity": targetSparsity, "block_size": blockSize, "dim": dim, "weight_threshold": weightThreshold]
        case .nOfM(let n, let m, let dim):
            ["n_m_ratio": [n, m], "dim": dim, "weight_threshold": weightThreshold]
        }
    }

    /// coremltools' `config_type` for this config.
    public var configType: String {
        if case .threshold = mode { return "OpThresholdPrunerConfig" }
        return "OpMagnitudePrunerConfig"
    }
}
