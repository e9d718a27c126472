import Foundation

/// Which activations to quantize and how: coremltools' `OptimizationConfig` of
/// `OpLinearQuantizerConfig`s as a user hands it to `linear_quantize_activations`. Only `mode`
/// and `dtype` matter for activations (coremltools reads nothing else); the other keys of an
/// `OpLinearQuantizerConfig` are accepted so a config serialized by coremltools works as is.
/// A `null` op entry leaves that op's activations in float; priority is op name, op type, global.
public struct ActivationQuantizationConfig: Sendable, Equatable {
    public enum DType: String, Sendable, Hashable, CaseIterable {
        case int8, uint8

        public var isSigned: Bool { self == .int8 }
    }

    /// How one op's activations are quantized.
    public struct OpConfig: Sendable, Hashable {
        public var dtype: DType
        public var mode: LinearQuantizationConfig.Mode

        public init(dtype: DType = .int8, mode: LinearQuantizationConfig.Mode = .linearSymmetric) {
            self.dtype = dtype
            self.mode = mode
        }
    }

    public var global: OpConfig?
    /// `nil` values are explicit opt-outs.
    public var opTypeConfigs: [String: OpConfig?]
    public var opNameConfigs: [String: OpConfig?]

    public init(global: OpConfig?, opTypeConfigs: [String: OpConfig?] = [:], opNameConfigs: [String: OpConfig?] = [:]) {
        self.global = global
        self.opTypeConfigs = opTypeConfigs
        self.opNameConfigs = opNameConfigs
    }

    /// The config for one op, or nil to leave its activations in float.
    public func config(opName: String, opType: String) -> OpConfig? {
        if let entry = opNameConfigs[opName] { return entry }
        if let entry = opTypeConfigs[opType] { return entry }
        return global
    }

    /// Parses the dictionary form; errors name the field under `field` (the request's key).
    public init(dictionary value: Any, field: String = "activation_config") throws(OptimizationConfig.Invalid) {
        guard let dict = value as? [String: Any], !dict.isEmpty else {
            throw .init(field: field, message: "must be an object with a global_config (an OpLinearQuantizerConfig: mode, dtype), as for coremltools' linear_quantize_activations")
        }
        let known: Set = ["config_type", "global_config", "op_type_configs", "op_name_configs"]
        if let unknown = dict.keys.sorted().first(where: { !known.contains($0) }) {
            throw .init(field: "\(field).\(unknown)", message: "unknown key; expected config_type, global_config, op_type_configs or op_name_configs")
        }
        if let type = dict["config_type"], !(type is NSNull) {
            guard let name = type as? String, name == "OpLinearQuantizerConfig" else {
                throw .init(field: "\(field).config_type", message: "activations are quantized linearly: the config_type must be OpLinearQuantizerConfig")
            }
        }
        func parse(_ v: Any?, _ field: String) throws(OptimizationConfig.Invalid) -> OpConfig? {
            guard let v, !(v is NSNull) else { return nil }
            let linear = try OptimizationConfig.linearConfig(v, field: field)
            guard let dtype = DType(rawValue: linear.dtype.rawValue) else {
                throw .init(field: "\(field).dtype", message: "activations are quantized to int8 or uint8 (Core ML's quantize op and onnxruntime's static quantization take no other type), not \(linear.dtype.rawValue)")
            }
            return OpConfig(dtype: dtype, mode: linear.mode)
        }
        func parseMap(_ key: String) throws(OptimizationConfig.Invalid) -> [String: OpConfig?] {
            guard let raw = dict[key], !(raw is NSNull) else { return [:] }
            guard let map = raw as? [String: Any] else { throw .init(field: "\(field).\(key)", message: "must be an object") }
            var result: [String: OpConfig?] = [:]
            for (name, v) in map { result[name] = .some(try parse(v, "\(field).\(key).\(name)")) }
            return result
        }
        global = try parse(dict["global_config"], "\(field).global_config")
        opTypeConfigs = try parseMap("op_type_configs")
        opNameConfigs = try parseMap("op_name_configs")
        if global == nil && opTypeConfigs.values.allSatisfy({ $0 == nil }) && opNameConfigs.values.allSatisfy({ $0 == nil }) {
            throw .init(field: "\(field).global_config", message: "nothing to do: give a global_config or at least one non-null op config")
        }
    }

    /// The dictionary form again, with every default spelled out (stored with the job).
    public var dictionary: [String: Any] {
        func encode(_ c: OpConfig?) -> Any {
            guard let c else { return NSNull() }
            return ["mode": c.mode.rawValue, "dtype": c.dtype.rawValue]
        }
        return [
            "config_type": "OpLinearQuantizerConfig",
            "global_config": encode(global),
            "op_type_configs": opTypeConfigs.mapValues(encode),
            "op_name_configs": opNameConfigs.mapValues(encode),
        ]
    }
}
