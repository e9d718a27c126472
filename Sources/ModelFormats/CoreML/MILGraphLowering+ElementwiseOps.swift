import Execution

/// Activations, elementwise unary and binary ops, clip, select and cast, with MIL's defaults
/// (coremltools `ops/defs/iOS15/activation.py`, `elementwise_unary.py`, `elementwise_binary.py`).
extension MILGraphLowering {
    static let binaryFunctions: [String: BinaryFunction] = [
        "add": .add, "sub": .subtract, "mul": .multiply, "real_div": .divide, "pow": .power,
        "maximum": .maximum, "minimum": .minimum, "floor_div": .floorDivide, "mod": .modulo,
        "equal": .equal, "not_equal": .notEqual, "less": .less, "less_equal": .lessOrEqual,
        "greater": .greater, "greater_equal": .greaterOrEqual,
        "logical_and": .and, "logical_or": .or, "logical_xor": .xor,
    ]

    static let unaryFunctions: [String: UnaryFunction] = [
        "relu": .relu, "sigmoid": .sigmoid, "tanh": .tanh, "erf": .erf, "exp": .exp, "sqrt": .sqrt,
        "abs": .absolute, "floor": .floor, "ceil": .ceil, "round": .round, "sign": .sign, "sin": .sin, "cos": .cos,
        "logical_not": .not, "silu": .silu, "softplus": .softplus, "softsign": .softsign,
    ]

    /// Unary ops MIL defines on `x + epsilon`, with their default epsilon (log's 1e-45 is the
    /// smallest float32 subnormal).
    static let epsilonFunctions: [String: (UnaryFunction, Float)] = [
        "log": (.log, .leastNonzeroMagnitude), "rsqrt": (.reciprocalSquareRoot, 1e-12), "inverse": (.reciprocal, 1e-4),
    ]

    mutating func lowerElementwiseOp(_ op: Op) throws(ExecutionError) -> Bool {
        if let function = Self.binaryFunctions[op.type] {
            emit(op, .binary(function), [try required(op, "x"), try required(op, "y")])
            return true
        }
        if let function = Self.unaryFunctions[op.type] {
            emit(op, .unary(function), [try required(op, "x")])
            return true
        }
        if let (function, defaultEpsilon) = Self.epsilonFunctions[op.type] {
            let x = try required(op, "x")
            let epsilon = try float(op, "epsilon") ?? defaultEpsilon
            let shifted = "\(op.outputs.first ?? op.name)/plus_epsilon"
            emit(op, .binary(.add), [x, addConstant("\(op.name)/epsilon", Self.scalar(epsilon))], outputs: [shifted])
            emit(op, .unary(function), [shifted])
            return true
        }
        switch op.type {
        case "gelu":
            let function: UnaryFunction
            switch try string(op, "mode") ?? "EXACT" {
            case "EXACT": function = .geluExact
            case "TANH_APPROXIMATION": function = .geluTanh
            case "SIGMOID_APPROXIMATION": function = .geluSigmoid
            case let mode: throw .unsupportedUse(name: op.name, type: op.type, reason: "mode '\(mode)'")
            }
            emit(op, .unary(function), [try required(op, "x")])
        case "leaky_relu":
            emit(op, .unary(.leakyRelu(alpha: try float(op, "alpha") ?? 0.01)), [try required(op, "x")])
        case "elu":
            emit(op, .unary(.elu(alpha: try float(op, "alpha") ?? 1)), [try required(op, "x")])
        case "sigmoid_hard":
            emit(op, .unary(.hardSigmoid(alpha: try float(op, "alpha") ?? 0.2, beta: try float(op, "beta") ?? 0.5)),
                 [try required(op, "x")])
        case "scaled_tanh":
            emit(op, .unary(.scaledTanh(alpha: try float(op, "alpha") ?? 1, beta: try float(op, "beta") ?? 1)),
                 [try required(op, "x")])
        case "relu6":
            emit(op, .clip, [try required(op, "x"), addConstant("\(op.name)/min", Self.scalar(0)),
                             addConstant("\(op.name)/max", Self.scalar(6))])
        case "clip":
            emit(op, .clip, [try required(op, "x"), try required(op, "alpha"), try required(op, "beta")])
        case "select":
            emit(op, .select, [try required(op, "cond"), try required(op, "a"), try required(op, "b")])
        case "cast":
            guard let dtype = try string(op, "dtype") else { throw .malformedGraph("op '\(op.name)' of type 'cast' has no 'dtype'") }
            let type: ElementType
            switch dtype {
            case "fp16", "fp32", "fp64": type = .float32
            case "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64": type = .int64
            case "bool": type = .bool
            default: throw .unsupportedUse(name: op.name, type: op.type, reason: "dtype '\(dtype)'")
            }
            emit(op, .cast(type), [try required(op, "x")])
        case "identity":
            emit(op, .identity, [try required(op, "x")])
        default:
            return false
        }
        return true
    }

    static func scalar(_ value: Float) -> ConstantTensor {
        ConstantTensor(shape: [], elements: .float32([value]))
    }
}
