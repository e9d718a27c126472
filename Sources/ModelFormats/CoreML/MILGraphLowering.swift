import Execution

/// The state of lowering one MIL block onto `ExecutionGraph`: the constants decoded so far (const
/// ops, inline arguments, constexpr results), the nodes emitted, and the declared type of every
/// value (what ranks are read from). Op families lower in the `MILGraphLowering+…` files.
struct MILGraphLowering {
    /// One op being lowered, with the names errors report.
    struct Op {
        let proto: CoreML_Specification_MILSpec_Operation
        let name: String
        var type: String { proto.type }
        var outputs: [String] { proto.outputs.map(\.name) }
    }

    let blob: MILConstant.Blob
    /// Decoded constants by value name; only those a node reads become graph constants.
    private(set) var constants: [String: MILConstant] = [:]
    private(set) var graphConstants: [String: ConstantTensor] = [:]
    private(set) var nodes: [Node] = []
    /// Values nodes produce or the graph takes, with their declared types.
    private var types: [String: CoreML_Specification_MILSpec_TensorType] = [:]

    init(blob: @escaping MILConstant.Blob) {
        self.blob = blob
    }

    mutating func declareInput(_ name: String, type: CoreML_Specification_MILSpec_ValueType) {
        types[name] = type.tensorType
    }

    mutating func lower(_ proto: CoreML_Specification_MILSpec_Operation) throws(ExecutionError) {
        let op = Op(proto: proto, name: MLProgramModel.opName(proto) ?? proto.outputs.first?.name ?? proto.type)
        if !proto.blocks.isEmpty { throw .unsupportedOperation(name: op.name, type: op.type) }
        switch op.type {
        case "const":
            guard let output = proto.outputs.first, let value = proto.attributes["val"] else {
                throw .malformedGraph("const '\(op.name)' has no value")
            }
            constants[output.name] = try MILConstant(value, blob: blob)
        case _ where MILConstexprDecoder.types.contains(op.type):
            try lowerConstexpr(op)
        default:
            try lowerComputation(op)
            for output in proto.outputs { types[output.name] = output.type.tensorType }
        }
    }

    /// Decodes the op's parameters (attributes in iOS16, inputs in iOS18) and stores its
    /// outputs as constants.
    private mutating func lowerConstexpr(_ op: Op) throws(ExecutionError) {
        var parameters: [String: MILConstant] = [:]
        for (key, value) in op.proto.attributes where key != "name" {
            parameters[key] = try MILConstant(value, blob: blob)
        }
        for key in op.proto.inputs.keys {
            parameters[key] = try constant(op, key)
        }
        let outputs = try MILConstexprDecoder(name: op.name, type: op.type, parameters: parameters).outputs()
        guard outputs.count == op.outputs.count else {
            throw .malformedGraph("op '\(op.name)' of type '\(op.type)' declares \(op.outputs.count) outputs, not \(outputs.count)")
        }
        for (name, value) in zip(op.outputs, outputs) { constants[name] = value }
    }

    // MARK: - Arguments

    private func binding(_ op: Op, _ parameter: String, _ index: Int = 0) -> CoreML_Specification_MILSpec_Argument.Binding.OneOf_Binding? {
        guard let arguments = op.proto.inputs[parameter]?.arguments, index < arguments.count else { return nil }
        return arguments[index].binding
    }

    func argumentCount(_ op: Op, _ parameter: String) -> Int { op.proto.inputs[parameter]?.arguments.count ?? 0 }

    /// The value a parameter is bound to as a node input: a value the graph computes, or a
    /// constant (registered as a graph constant; inline ones named after the op and parameter).
    mutating func input(_ op: Op, _ parameter: String, _ index: Int = 0) throws(ExecutionError) -> String? {
        switch binding(op, parameter, index) {
        case nil:
            return nil
        case .name(let name)?:
            if let value = constants[name] {
                try register(name, value, op)
            } else if types[name] == nil {
                throw .malformedGraph("op '\(op.name)' reads '\(name)', which nothing before it produces")
            }
            return name
        case .value(let value)?:
            let name = index == 0 ? "\(op.name)/\(parameter)" : "\(op.name)/\(parameter)/\(index)"
            try register(name, try MILConstant(value, blob: blob), op)
            return name
        }
    }

    /// `input` for an operand the op cannot do without.
    mutating func required(_ op: Op, _ parameter: String) throws(ExecutionError) -> String {
        guard let name = try input(op, parameter) else {
            throw .malformedGraph("op '\(op.name)' of type '\(op.type)' has no '\(parameter)'")
        }
        return name
    }

    private mutating func register(_ name: String, _ value: MILConstant, _ op: Op) throws(ExecutionError) {
        guard graphConstants[name] == nil else { return }
        guard let tensor = value.tensor else {
            throw .unsupportedUse(name: op.name, type: op.type, reason: "'\(name)' is a string, which no kernel reads")
        }
        graphConstants[name] = tensor
    }

    /// A constant the graph adds itself (relu6's bounds, a missing batch_norm scale).
    mutating func addConstant(_ name: String, _ tensor: ConstantTensor) -> String {
        graphConstants[name] = tensor
        return name
    }

    /// The constant a parameter is bound to; nil when absent. A parameter the op needs at
    /// lowering time but that the graph computes is refused.
    func constant(_ op: Op, _ parameter: String, _ index: Int = 0) throws(ExecutionError) -> MILConstant? {
        switch binding(op, parameter, index) {
        case nil:
            return nil
        case .name(let name)?:
            guard let value = constants[name] else {
                throw .unsupportedUse(name: op.name, type: op.type, reason: "'\(parameter)' is computed at run time; quantd's executor needs it constant")
            }
            return value
        case .value(let value)?:
            return try MILConstant(value, blob: blob)
        }
    }

    func ints(_ op: Op, _ parameter: String) throws(ExecutionError) -> [Int]? {
        guard let value = try constant(op, parameter) else { return nil }
        guard let ints = value.integers else { throw invalid(op, parameter, "is not integer") }
        return ints
    }

    func int(_ op: Op, _ parameter: String) throws(ExecutionError) -> Int? {
        guard let ints = try ints(op, parameter) else { return nil }
        guard ints.count == 1 else { throw invalid(op, parameter, "is not a scalar") }
        return ints[0]
    }

    func float(_ op: Op, _ parameter: String) throws(ExecutionError) -> Float? {
        guard let value = try constant(op, parameter) else { return nil }
        guard let floats = value.floats, floats.count == 1 else { throw invalid(op, parameter, "is not a number") }
        return floats[0]
    }

    func bool(_ op: Op, _ parameter: String) throws(ExecutionError) -> Bool? {
        guard let value = try constant(op, parameter) else { return nil }
        guard let bools = value.bools, bools.count == 1 else { throw invalid(op, parameter, "is not a boolean") }
        return bools[0]
    }

    func bools(_ op: Op, _ parameter: String) throws(ExecutionError) -> [Bool]? {
        guard let value = try constant(op, parameter) else { return nil }
        guard let bools = value.bools else { throw invalid(op, parameter, "is not boolean") }
        return bools
    }

    func string(_ op: Op, _ parameter: String) throws(ExecutionError) -> String? {
        guard let value = try constant(op, parameter) else { return nil }
        guard let string = value.string else { throw invalid(op, parameter, "is not a string") }
        return string
    }

    private func invalid(_ op: Op, _ parameter: String, _ what: String) -> ExecutionError {
        .malformedGraph("op '\(op.name)' of type '\(op.type)': '\(parameter)' \(what)")
    }

    /// The declared rank of an operand (a constant's or a computed value's).
    func rank(_ op: Op, _ parameter: String) throws(ExecutionError) -> Int {
        if case .name(let name)? = binding(op, parameter) {
            if let value = constants[name] { return value.shape.count }
            if let type = types[name], type.rank >= 0 { return Int(type.rank) }
        } else if let value = try constant(op, parameter) {
            return value.shape.count
        }
        throw .unsupportedUse(name: op.name, type: op.type, reason: "the rank of '\(parameter)' is not fixed")
    }

    // MARK: - Nodes

    mutating func emit(_ op: Op, _ operation: Operation, _ inputs: [String?], outputs: [String]? = nil) {
        nodes.append(Node(name: op.name, sourceType: op.type, operation: operation, inputs: inputs, outputs: outputs ?? op.outputs))
    }

    /// An identity node giving `value` another name (an output the description names
    /// differently from the program).
    mutating func alias(_ value: String, as name: String) throws(ExecutionError) {
        if let constant = constants[value] {
            guard let tensor = constant.tensor else { throw .malformedGraph("output '\(name)' is a string constant") }
            graphConstants[value] = tensor
        }
        nodes.append(Node(name: name, sourceType: "identity", operation: .identity, inputs: [value], outputs: [name]))
    }

    func produces(_ value: String) -> Bool { types[value] != nil || constants[value] != nil }

    mutating func lowerComputation(_ op: Op) throws(ExecutionError) {
        if try lowerNeuralNetworkOp(op) { return }
        if try lowerElementwiseOp(op) { return }
        if try lowerTensorOp(op) { return }
        if try lowerQuantizationOp(op) { return }
        throw .unsupportedOperation(name: op.name, type: op.type)
    }
}
