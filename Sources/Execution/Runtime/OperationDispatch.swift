/// From a node's operation to its kernel, with the operands in the operation's documented order.
enum OperationDispatch {
    static func execute(_ node: Node, _ operands: [Value?], _ context: KernelContext) throws(ExecutionError) -> [Value] {
        func operand(_ index: Int, _ what: String) throws(ExecutionError) -> Value {
            try context.operand(operands, index, what)
        }
        func optional(_ index: Int) -> Value? {
            index < operands.count ? operands[index] : nil
        }
        switch node.operation {
        case .convolution(let attributes):
            return [try ConvolutionKernel.run(try context.floatOperand(operands, 0, "input"), weight: try context.floatOperand(operands, 1, "weight"),
                                              bias: optional(2), attributes, context)]
        case .gemm(let transposeA, let transposeB, let alpha, let beta):
            return [try MatMulKernel.gemm(try context.floatOperand(operands, 0, "a"), try context.floatOperand(operands, 1, "b"), optional(2),
                                          transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, context)]
        case .linear:
            return [try MatMulKernel.linear(try context.floatOperand(operands, 0, "input"), weight: try context.floatOperand(operands, 1, "weight"),
                                            bias: optional(2), context)]
        case .matMul(let transposeA, let transposeB):
            return [try MatMulKernel.matMul(try operand(0, "a"), try operand(1, "b"), transposeA: transposeA, transposeB: transposeB, context)]
        case .unary(let function):
            return [try UnaryKernel.run(function, try operand(0, "input"), context)]
        case .binary(let function):
            return [try BinaryKernel.run(function, try operand(0, "a"), try operand(1, "b"), context)]
        case .clip:
            return [try ClipKernel.run(try operand(0, "input"), low: optional(1), high: optional(2), context)]
        case .select:
            return [try SelectKernel.run(try operand(0, "condition"), try operand(1, "a"), try operand(2, "b"), context)]
        case .cast(let type):
            return [try CastKernel.run(try operand(0, "input"), to: type, context)]
        case .identity:
            return [try operand(0, "input")]
        case .reshape(let allowZero):
            return [try ViewKernels.reshape(try operand(0, "input"), shape: try operand(1, "shape").integers, allowZero: allowZero, context)]
        case .transpose(let permutation):
            return [try TransposeKernel.run(try operand(0, "input"), permutation: permutation, context)]
        case .concat(let axis):
            var parts: [Value] = []
            for (index, part) in operands.enumerated() {
                guard let part else { throw context.shapeMismatch("concat operand \(index) is missing") }
                parts.append(part)
            }
            return [try ConcatKernel.run(parts, axis: axis, context)]
        case .squeeze(let axes):
            return [try ViewKernels.squeeze(try operand(0, "input"), axes: axes ?? optional(1)?.integers, context)]
        case .unsqueeze(let axes):
            let resolved: [Int]
            if let axes { resolved = axes } else { resolved = try operand(1, "axes").integers }
            return [try ViewKernels.unsqueeze(try operand(0, "input"), axes: resolved, context)]
        case .flatten(let axis):
            return [try ViewKernels.flatten(try operand(0, "input"), axis: axis, context)]
        default:
            throw .unsupportedOperation(name: node.name, type: node.sourceType)
        }
    }
}
