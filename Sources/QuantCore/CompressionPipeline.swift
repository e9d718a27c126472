import Foundation

/// A job's compression: one `OptimizationConfig`, or two applied in order for joint
/// compression, as coremltools users chain passes (`prune_weights` then
/// `linear_quantize_weights(joint_compression=True)`). Accepted orders: prune → quantize,
/// prune → palettize, palettize → quantize (the look-up table).
public struct CompressionPipeline: Sendable, Equatable {
    public var stages: [OptimizationConfig]

    public init(_ stages: [OptimizationConfig]) {
        self.stages = stages
    }

    public init(_ single: OptimizationConfig) {
        stages = [single]
    }

    /// A config dictionary, or a list of one or two of them.
    public init(value: Any) throws(OptimizationConfig.Invalid) {
        guard let list = value as? [Any] else {
            stages = [try OptimizationConfig(dictionary: value)]
            return
        }
        guard (1...2).contains(list.count) else {
            throw OptimizationConfig.Invalid(field: "config", message: "a list of configs holds one or two stages (e.g. pruning, then quantization)")
        }
        var stages: [OptimizationConfig] = []
        for (i, item) in list.enumerated() {
            do { stages.append(try OptimizationConfig(dictionary: item)) } catch {
                throw OptimizationConfig.Invalid(field: error.field.replacingOccurrences(of: "config", with: "config[\(i)]", options: .anchored), message: error.message)
            }
        }
        if stages.count == 2 {
            let order = (stages[0].kind, stages[1].kind)
            guard Self.jointOrders.contains(where: { $0 == order }) else {
                throw OptimizationConfig.Invalid(field: "config[1].config_type",
                    message: "\(stages[0].kind.rawValue) then \(stages[1].kind.rawValue) is not a supported joint compression; use pruning then quantization, pruning then palettization, or palettization then quantization")
            }
        }
        self.stages = stages
    }

    static let jointOrders: [(OptimizationConfig.Kind, OptimizationConfig.Kind)] = [
        (.pruning, .linearQuantization), (.pruning, .palettization), (.palettization, .linearQuantization),
    ]

    /// The op configs that apply to one weight, in stage order (stages that skip it left out).
    public func ops(opName: String, opType: String?) -> [OptimizationConfig.OpConfig] {
        stages.compactMap { $0.config(opName: opName, opType: opType) }
    }

    /// The dictionary (one stage) or list (two) form, with defaults spelled out.
    public var value: Any {
        stages.count == 1 ? stages[0].dictionary : stages.map(\.dictionary)
    }
}
