import Execution

extension ONNXLowering {
    private static let reduceFunctions: [String: ReduceFunction] = [
        "ReduceSum": .sum, "ReduceMean": .mean, "ReduceMax": .max, "ReduceMin": .min, "ReduceProd": .product,
        "ReduceSumSquare": .sumSquare, "ReduceL1": .l1, "ReduceL2": .l2, "ReduceLogSumExp": .logSumExp,
        // log of the sum: the log is a node after it.
        "ReduceLogSum": .sum,
    ]

    /// Reduce* (axes an attribute before opset 18, an input from 18; ReduceSum's from 13),
    /// ArgMax and ArgMin.
    mutating func lowerReduction(_ node: ONNXSourceNode) throws(ExecutionError) -> Bool {
        let op = node.proto.opType
        if op == "ArgMax" || op == "ArgMin" {
            emit(node, .argReduce(op == "ArgMax" ? .max : .min, axis: node.int("axis", default: 0),
                                  keepDimensions: node.bool("keepdims", default: true),
                                  selectLastIndex: node.bool("select_last_index", default: false)),
                 inputs: [node.input(0)])
            return true
        }
        guard let function = Self.reduceFunctions[op] else { return false }
        let axesAreInput = op == "ReduceSum" || opset >= 18
        let keep = node.bool("keepdims", default: true)
        let operation = Operation.reduce(function, axes: axesAreInput ? nil : node.ints("axes"), keepDimensions: keep,
                                         noopWithEmptyAxes: axesAreInput && node.bool("noop_with_empty_axes", default: false))
        let inputs = axesAreInput ? Array(node.inputs.prefix(2)) : [node.input(0)]
        if op == "ReduceLogSum" {
            emit(node, operation, inputs: inputs, outputs: [node.intermediate("sum")])
            emit(node, .unary(.log), inputs: [node.intermediate("sum")])
        } else {
            emit(node, operation, inputs: inputs)
        }
        return true
    }
}
