import Foundation

/// coremltools' `OptimizationConfig` in its dictionary form — `config_type`, `global_config`,
/// `op_type_configs`, `op_name_configs` — so a team's existing config (JSON or YAML) works
/// unchanged. A `null` entry means "leave that weight alone"; priority is op name, then op
/// type, then global.
public struct OptimizationConfig: Sendable, Equatable {
    public enum OpConfig: Sendable, Equatable {
        case linearQuantization(LinearQuantizationConfig)
        case pruning(PruningConfig)
        case palettization(PalettizationConfig)
    }

    /// A config that cannot be used, naming the offending field in dotted form.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var field: String
        public var message: String
        public var description: String { "\(field): \(message)" }
    }

    /// What a config does, from its `config_type`.
    public enum Kind: String, Sendable, Equatable {
        case linearQuantization = "linear quantization"
        case palettization
        case pruning
    }

    /// coremltools' class name of the op configs, e.g. `OpLinearQuantizerConfig`.
    public var configType: String
    public var global: OpConfig?
    /// `nil` values are explicit opt-outs.
    public var opTypeConfigs: [String: OpConfig?]
    public var opNameConfigs: [String: OpConfig?]

    public init(configType: String = "OpLinearQuantizerConfig", global: OpConfig?,
                opTypeConfigs: [String: OpConfig?] = [:], opNameConfigs: [String: OpConfig?] = [:]) {
        self.configType = configType
        self.global = global
        self.opTypeConfigs = opTypeConfigs
        self.opNameConfigs = opNameConfigs
    }

    /// The config for one weight, or nil to leave it as it is.
    public func config(opName: String, opType: String?) -> OpConfig? {
        if let entry = opNameConfigs[opName] { return entry }
        if let opType, let entry = opTypeConfigs[opType] { return entry }
        return global
    }

    static let configTypes: [String: Kind] = [
        "OpLinearQuantizerConfig": .linearQuantization,
        "OpMagnitudePrunerConfig": .pruning,
        "OpThresholdPrunerConfig": .pruning,
        "OpPalettizerConfig": .palettization,
    ]

    public var kind: Kind { Self.configTypes[configType] ?? .linearQuantization }

    /// Parses the dictionary form from a decoded JSON/YAML value (`[String: Any]`).
    public init(dictionary value: Any) throws(Invalid) {
        guard let dict = value as? [String: Any], !dict.isEmpty else {
            throw Invalid(field: "config", message: "must be an object with config_type and global_config")
        }
        let known: Set = ["config_type", "global_config", "op_type_configs", "op_name_configs"]
        if let unknown = dict.keys.sorted().first(where: { !known.contains($0) }) {
            throw Invalid(field: "config.\(unknown)", message: "unknown key; expected config_type, global_config, op_type_configs or op_name_configs")
        }
        let type = (dict["config_type"] as? String) ?? "OpLinearQuantizerConfig"
        guard Self.configTypes[type] != nil else {
            throw Invalid(field: "config.config_type", message: "'\(type)' is not supported; use one of \(Self.configTypes.keys.sorted().joined(separator: ", "))")
        }
        configType = type
        func parse(_ v: Any?, _ field: String) throws(Invalid) -> OpConfig? {
            guard let v, !(v is NSNull) else { return nil }
            switch Self.configTypes[type] {
            case .pruning:
                guard let d = v as? [String: Any] else { throw Invalid(field: field, message: "must be an object") }
                do { return .pruning(try PruningConfig(dictionary: d, configType: type)) } catch {
                    throw Invalid(field: "\(field).\(error.field)", message: error.description)
                }
            case .palettization:
                return .palettization(try Self.palettizationConfig(v, field: field))
            default:
                return .linearQuantization(try Self.linearConfig(v, field: field))
            }
        }
        func parseMap(_ key: String) throws(Invalid) -> [String: OpConfig?] {
            guard let raw = dict[key], !(raw is NSNull) else { return [:] }
            guard let map = raw as? [String: Any] else { throw Invalid(field: "config.\(key)", message: "must be an object") }
            var result: [String: OpConfig?] = [:]
            for (name, v) in map { result[name] = .some(try parse(v, "config.\(key).\(name)")) }
            return result
        }
        global = try parse(dict["global_config"], "config.global_config")
        opTypeConfigs = try parseMap("op_type_configs")
        opNameConfigs = try parseMap("op_name_configs")
        if global == nil && opTypeConfigs.values.allSatisfy({ $0 == nil }) && opNameConfigs.values.allSatisfy({ $0 == nil }) {
            throw Invalid(field: "config.global_config", message: "nothing to do: give a global_config or at least one non-null op config")
        }
    }

    /// One `OpLinearQuantizerConfig` dictionary, with coremltools' defaults for missing keys.
    static func linearConfig(_ value: Any, field: String) throws(Invalid) -> LinearQuantizationConfig {
        guard let d = value as? [String: Any] else { throw Invalid(field: field, message: "must be an object") }
        var c = LinearQuantizationConfig()
        for key in d.keys.sorted() {
            let v = d[key]!
            let f = "\(field).\(key)"
            switch key {
            case "mode":
                guard let s = v as? String, let m = LinearQuantizationConfig.Mode(rawValue: s.lowercased()) else {
                    throw Invalid(field: f, message: "must be 'linear_symmetric' or 'linear'")
                }
                c.mode = m
            case "dtype":
                guard let s = v as? String, let t = LinearQuantizationConfig.DType(rawValue: s.lowercased()) else {
                    throw Invalid(field: f, message: "must be one of int8, uint8, int4, uint4")
                }
                c.dtype = t
            case "granularity":
                guard let s = v as? String, let g = LinearQuantizationConfig.Granularity(rawValue: s.lowercased()) else {
                    throw Invalid(field: f, message: "must be 'per_tensor', 'per_channel' or 'per_block'")
                }
                c.granularity = g
            case "block_size":
                if let n = exactInt(v) {
                    guard n >= 0 else { throw Invalid(field: f, message: "must not be negative") }
                    c.blockSize = .alongInputAxis(n)
                } else if let list = v as? [Any] {
                    var sizes: [Int] = []
                    for item in list {
                        guard let n = exactInt(item), n >= 0 else { throw Invalid(field: f, message: "must be a non-negative integer or a list of them") }
                        sizes.append(n)
                    }
                    c.blockSize = .perAxis(sizes)
                } else {
                    throw Invalid(field: f, message: "must be a non-negative integer or a list of them")
                }
            case "weight_threshold":
                guard let n = exactInt(v), n >= 0 else { throw Invalid(field: f, message: "must be a non-negative integer") }
                c.weightThreshold = n
            case "algorithm", "config_type":
                break
            default:
                throw Invalid(field: f, message: "unknown key; OpLinearQuantizerConfig takes mode, dtype, granularity, block_size, weight_threshold")
            }
        }
        if c.granularity == .perBlock, case .alongInputAxis(let n) = c.blockSize, n == 0 {
            throw Invalid(field: "\(field).block_size", message: "per_block needs a block_size > 0 (0 means the whole axis, i.e. per_channel)")
        }
        return c
    }

    /// One `OpPalettizerConfig` dictionary, with coremltools' defaults for missing keys.
    static func palettizationConfig(_ value: Any, field: String) throws(Invalid) -> PalettizationConfig {
        guard let d = value as? [String: Any] else { throw Invalid(field: field, message: "must be an object") }
        var c = PalettizationConfig()
        for key in d.keys.sorted() {
            let v = d[key]!
            let f = "\(field).\(key)"
            func int() throws(Invalid) -> Int? {
                if v is NSNull { return nil }
                guard let n = exactInt(v) else { throw Invalid(field: f, message: "must be an integer") }
                return n
            }
            switch key {
            case "mode":
                guard let s = v as? String, let m = PalettizationConfig.Mode(rawValue: s.lowercased()) else {
                    throw Invalid(field: f, message: "must be 'kmeans', 'uniform' or 'unique'")
                }
                c.mode = m
            case "nbits": c.nbits = try int()
            case "granularity":
                guard let s = v as? String, let g = PalettizationConfig.Granularity(rawValue: s.lowercased()) else {
                    throw Invalid(field: f, message: "must be 'per_tensor' or 'per_grouped_channel'")
                }
                c.granularity = g
            case "group_size": c.groupSize = try int() ?? c.groupSize
            case "channel_axis": c.channelAxis = try int()
            case "cluster_dim": c.clusterDim = try int() ?? 1
            case "enable_per_channel_scale":
                guard let n = v as? NSNumber, String(cString: n.objCType) == "c" else { throw Invalid(field: f, message: "must be true or false") }
                c.enablePerChannelScale = n.boolValue
            case "weight_threshold":
                guard let n = try int(), n >= 0 else { throw Invalid(field: f, message: "must be a non-negative integer") }
                c.weightThreshold = n
            case "num_kmeans_workers", "algorithm", "config_type":
                break
            default:
                throw Invalid(field: f, message: "unknown key; OpPalettizerConfig takes mode, nbits, granularity, group_size, channel_axis, cluster_dim, enable_per_channel_scale, weight_threshold")
            }
        }
        do { try c.validate() } catch {
            let key: String = switch error {
            case .missingPaletteBitWidth, .unexpectedPaletteBitWidth, .unsupportedPaletteBitWidth: "nbits"
            case .invalidGroupSize: "group_size"
            default: "cluster_dim"
            }
            throw Invalid(field: "\(field).\(key)", message: error.description)
        }
        return c
    }

    /// An integer from JSON/YAML, refusing booleans (which Foundation also bridges to 0/1).
    private static func exactInt(_ v: Any) -> Int? {
        if let n = v as? NSNumber {
            if String(cString: n.objCType) == "c" { return nil }
            let d = n.doubleValue
            return d.rounded() == d && abs(d) < 1e15 ? Int(d) : nil
        }
        return v as? Int
    }

    /// The dictionary form again, with every default spelled out (stored with the job).
    public var dictionary: [String: Any] {
        func encode(_ c: OpConfig?) -> Any {
            guard let c else { return NSNull() }
            switch c {
            case .linearQuantization(let l):
                var d: [String: Any] = ["mode": l.mode.rawValue, "dtype": l.dtype.rawValue,
                                        "granularity": l.granularity.rawValue, "weight_threshold": l.weightThreshold]
                if l.granularity == .perBlock {
                    switch l.blockSize {
                    case .alongInputAxis(let n): d["block_size"] = n
                    case .perAxis(let sizes): d["block_size"] = sizes
                    }
                }
                return d
            case .pruning(let p):
                return p.dictionary
            case .palettization(let p):
                var d: [String: Any] = ["mode": p.mode.rawValue, "granularity": p.granularity.rawValue,
                                        "cluster_dim": p.clusterDim, "enable_per_channel_scale": p.enablePerChannelScale,
                                        "weight_threshold": p.weightThreshold]
                if let nbits = p.nbits { d["nbits"] = nbits }
                if p.granularity == .perGroupedChannel {
                    d["group_size"] = p.groupSize
                    if let axis = p.channelAxis { d["channel_axis"] = axis }
                }
                return d
            }
        }
        return [
            "config_type": configType,
            "global_config": encode(global),
            "op_type_configs": opTypeConfigs.mapValues(encode),
            "op_name_configs": opNameConfigs.mapValues(encode),
        ]
    }
}
