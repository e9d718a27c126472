import Execution

extension ONNXLowering {
    /// BatchNormalization (inference), LayerNormalization, GroupNormalization,
    /// InstanceNormalization, Softmax and LogSoftmax.
    mutating func lowerNormalization(_ node: ONNXSourceNode) throws(ExecutionError) -> Bool {
        let epsilon = node.float("epsilon", default: 1e-5)
        switch node.proto.opType {
        case "BatchNormalization":
            guard !node.bool("training_mode", default: false), !node.readsOutput(1) else {
                throw node.unsupported("training mode (running statistics outputs) is not implemented")
            }
            emit(node, .batchNormalization(epsilon: epsilon), outputs: [node.outputs[0]])
        case "LayerNormalization":
            guard !node.readsOutput(1), !node.readsOutput(2) else { throw node.unsupported("its Mean and InvStdDev outputs are not implemented") }
            let axis = node.int("axis", default: -1)
            let axes: [Int]
            if axis < 0 {
                axes = Array(axis..<0)
            } else if let rank = rank(of: node.input(0)) {
                axes = Array(axis..<rank)
            } else {
                throw node.unsupported("axis \(axis) counts from the front of an input whose rank is unknown before running")
            }
            emit(node, .layerNormalization(axes: axes, epsilon: epsilon), outputs: [node.outputs[0]])
        case "InstanceNormalization": emit(node, .instanceNormalization(epsilon: epsilon))
        case "GroupNormalization":
            guard let groups = node.int("num_groups") else { throw node.unsupported("it has no num_groups") }
            if opset >= 21 {
                emit(node, .groupNormalization(groups: groups, epsilon: epsilon))
            } else {
                try lowerGroupNormalization18(node, groups: groups, epsilon: epsilon)
            }
        case "Softmax": emit(node, .softmax(axis: node.int("axis", default: -1)))
        case "LogSoftmax": emit(node, .logSoftmax(axis: node.int("axis", default: -1)))
        default:
            return false
        }
        return true
    }

    /// GroupNormalization-18 scales and shifts each *group* (scale and bias `[groups]`), the
    /// executor's each channel: normalize without them, view the result as
    /// `[N, groups, rest]`, apply scale and bias as `[groups, 1]`, and restore the shape. The
    /// channel count need not be known before running.
    private mutating func lowerGroupNormalization18(_ node: ONNXSourceNode, groups: Int, epsilon: Float) throws(ExecutionError) {
        let x = try node.requiredInput(0)
        let scale = try node.requiredInput(1), bias = try node.requiredInput(2)
        let grouped = node.intermediate("grouped_shape")
        addConstant(grouped, ConstantTensor(shape: [3], elements: .int64([0, Int64(groups), -1])))
        emit(node, .groupNormalization(groups: groups, epsilon: epsilon), inputs: [x, nil, nil], outputs: [node.intermediate("normalized")])
        emit(node, .shape(start: 0, end: nil), inputs: [x], outputs: [node.intermediate("shape")])
        emit(node, .reshape(allowZero: false), inputs: [node.intermediate("normalized"), grouped], outputs: [node.intermediate("groups")])
        emit(node, .unsqueeze(axes: [1]), inputs: [scale], outputs: [node.intermediate("group_scale")])
        emit(node, .unsqueeze(axes: [1]), inputs: [bias], outputs: [node.intermediate("group_bias")])
        emit(node, .binary(.multiply), inputs: [node.intermediate("groups"), node.intermediate("group_scale")],
             outputs: [node.intermediate("scaled")])
        emit(node, .binary(.add), inputs: [node.intermediate("scaled"), node.intermediate("group_bias")],
             outputs: [node.intermediate("shifted")])
        emit(node, .reshape(allowZero: false), inputs: [node.intermediate("shifted"), node.intermediate("shape")])
    }
}
