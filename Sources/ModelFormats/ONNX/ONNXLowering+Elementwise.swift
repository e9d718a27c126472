import Execution

extension ONNXLowering {
    private static let unaryFunctions: [String: UnaryFunction] = [
        "Relu": .relu, "Sigmoid": .sigmoid, "Tanh": .tanh, "Erf": .erf, "Exp": .exp, "Log": .log, "Sqrt": .sqrt,
        "Reciprocal": .reciprocal, "Neg": .negate, "Abs": .absolute, "Floor": .floor, "Ceil": .ceil, "Round": .round,
        "Sign": .sign, "Sin": .sin, "Cos": .cos, "Not": .not, "Softplus": .softplus, "Softsign": .softsign,
        "HardSwish": .hardSwish,
    ]

    private static let binaryFunctions: [String: BinaryFunction] = [
        "Add": .add, "Sub": .subtract, "Mul": .multiply, "Div": .divide, "Pow": .power,
        "Equal": .equal, "Less": .less, "LessOrEqual": .lessOrEqual, "Greater": .greater,
        "GreaterOrEqual": .greaterOrEqual, "And": .and, "Or": .or, "Xor": .xor,
    ]

    /// Max, Min, Sum and Mean take any number of inputs: a chain of binary ops.
    private static let variadicFunctions: [String: BinaryFunction] = ["Max": .maximum, "Min": .minimum, "Sum": .add, "Mean": .add]

    /// Element-wise ops, Cast, Clip, Where and the identities of inference (Identity, Dropout).
    mutating func lowerElementwise(_ node: ONNXSourceNode) throws(ExecutionError) -> Bool {
        let op = node.proto.opType
        if let function = Self.unaryFunctions[op] {
            emit(node, .unary(function))
            return true
        }
        if let function = Self.binaryFunctions[op] {
            emit(node, .binary(function))
            return true
        }
        if let function = Self.variadicFunctions[op] {
            try lowerVariadic(node, function)
            return true
        }
        switch op {
        case "LeakyRelu": emit(node, .unary(.leakyRelu(alpha: node.float("alpha", default: 0.01))))
        case "Elu": emit(node, .unary(.elu(alpha: node.float("alpha", default: 1))))
        case "HardSigmoid":
            emit(node, .unary(.hardSigmoid(alpha: node.float("alpha", default: 0.2), beta: node.float("beta", default: 0.5))))
        case "Gelu":
            switch node.string("approximate", default: "none") {
            case "none": emit(node, .unary(.geluExact))
            case "tanh": emit(node, .unary(.geluTanh))
            case let other: throw node.unsupported("approximate '\(other)' is not one of none, tanh")
            }
        case "Mod":
            // fmod=1 is C's fmod (sign of the dividend); the executor's modulo is the integer
            // Mod's (sign of the divisor).
            guard !node.bool("fmod", default: false) else { throw node.unsupported("fmod=1 (C fmod) is not implemented") }
            emit(node, .binary(.modulo))
        case "PRelu":
            // x where x ≥ 0, slope·x elsewhere, slope broadcast to x.
            let x = try node.requiredInput(0)
            let zero = node.intermediate("zero")
            addConstant(zero, ConstantTensor(shape: [], elements: .float32([0])))
            emit(node, .binary(.less), inputs: [x, zero], outputs: [node.intermediate("negative")])
            emit(node, .binary(.multiply), inputs: [x, node.input(1)], outputs: [node.intermediate("sloped")])
            emit(node, .select, inputs: [node.intermediate("negative"), node.intermediate("sloped"), x])
        case "Clip": emit(node, .clip)
        case "Where": emit(node, .select)
        case "Cast":
            guard let to = node.int("to"), let type = ONNXDataType(rawValue: Int32(clamping: to)), let element = type.executionElementType else {
                throw node.unsupported("cast to ONNX element type \(node.int("to").map(String.init) ?? "none"), which the executor does not compute in")
            }
            emit(node, .cast(element))
        case "Identity": emit(node, .identity)
        case "Dropout":
            // Inference: the input as it is. The mask output would be all true; nothing reads it
            // in exported models, so it is refused rather than made up.
            guard !node.readsOutput(1) else { throw node.unsupported("its mask output is read") }
            emit(node, .identity, inputs: [node.input(0)], outputs: [node.outputs[0]])
        default:
            return false
        }
        return true
    }

    private mutating func lowerVariadic(_ node: ONNXSourceNode, _ function: BinaryFunction) throws(ExecutionError) {
        let operands = node.inputs.compactMap { $0 }
        guard let first = operands.first, let output = node.outputs.first else { throw node.unsupported("it has no inputs") }
        let averages = node.proto.opType == "Mean" && operands.count > 1
        let total = averages ? node.intermediate("sum") : output
        guard operands.count > 1 else {
            emit(node, .identity, inputs: [first], outputs: [output])
            return
        }
        var accumulated = first
        for (index, operand) in operands.dropFirst().enumerated() {
            let last = index == operands.count - 2
            let result = last ? total : node.intermediate("partial_\(index)")
            emit(node, .binary(function), inputs: [accumulated, operand], outputs: [result])
            accumulated = result
        }
        if averages {
            let count = node.intermediate("count")
            addConstant(count, ConstantTensor(shape: [], elements: .float32([Float(operands.count)])))
            emit(node, .binary(.divide), inputs: [total, count], outputs: [output])
        }
    }
}
