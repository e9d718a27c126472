import Execution
import Foundation

extension ONNXLowering {
    /// Shape and layout ops, gathers, generators (Constant, ConstantOfShape, Range) and TopK,
    /// CumSum. From opset 13 their axes, sizes and shapes are inputs, which the executor reads
    /// as operands; only Split gained an attribute since (num_outputs, 18).
    mutating func lowerLayout(_ node: ONNXSourceNode) throws(ExecutionError) -> Bool {
        switch node.proto.opType {
        case "Constant": try lowerConstant(node)
        case "Reshape": emit(node, .reshape(allowZero: node.bool("allowzero", default: false)))
        case "Transpose": emit(node, .transpose(permutation: node.ints("perm")))
        case "Concat":
            guard let axis = node.int("axis") else { throw node.unsupported("it has no axis attribute") }
            emit(node, .concat(axis: axis))
        case "Split":
            if let parts = node.int("num_outputs"), parts != node.outputs.count {
                throw node.unsupported("num_outputs \(parts) differs from its \(node.outputs.count) outputs")
            }
            emit(node, .split(axis: node.int("axis", default: 0), sizes: nil))
        case "Slice": emit(node, .slice)
        case "Gather": emit(node, .gather(axis: node.int("axis", default: 0)))
        case "GatherElements": emit(node, .gatherElements(axis: node.int("axis", default: 0)))
        case "Squeeze": emit(node, .squeeze(axes: nil))
        case "Unsqueeze": emit(node, .unsqueeze(axes: nil))
        case "Flatten": emit(node, .flatten(axis: node.int("axis", default: 1)))
        case "Expand": emit(node, .expand)
        case "Tile": emit(node, .tile)
        case "Pad":
            let mode: PadMode
            switch node.string("mode", default: "constant") {
            case "constant": mode = .constant
            case "reflect": mode = .reflect
            case "edge": mode = .edge
            case let other: throw node.unsupported("mode '\(other)' is not implemented")
            }
            // Opset 18's axes operand pads only some axes; the executor's pads cover them all.
            guard node.input(3) == nil else { throw node.unsupported("its axes input (opset 18) is not implemented") }
            emit(node, .pad(mode), inputs: Array(node.inputs.prefix(3)))
        case "Shape": emit(node, .shape(start: node.int("start", default: 0), end: node.int("end")))
        case "ConstantOfShape":
            let value = try node.tensor("value").map { tensor throws(ExecutionError) in try ONNXTensorPayload.constant(tensor, files: files) }
            emit(node, .constantOfShape(value ?? ConstantTensor(shape: [1], elements: .float32([0]))))
        case "Range": emit(node, .range)
        case "TopK":
            emit(node, .topK(axis: node.int("axis", default: -1), largest: node.bool("largest", default: true),
                             sorted: node.bool("sorted", default: true)))
        case "CumSum":
            emit(node, .cumulativeSum(exclusive: node.bool("exclusive", default: false), reverse: node.bool("reverse", default: false)))
        default:
            return false
        }
        return true
    }

    /// A Constant node's value in any of its forms, held as a graph constant.
    private mutating func lowerConstant(_ node: ONNXSourceNode) throws(ExecutionError) {
        guard let output = node.outputs.first, let attribute = node.proto.attribute.first else {
            throw node.unsupported("it has no value attribute")
        }
        switch attribute.name {
        case "value": try addConstant(attribute.t, named: output)
        case "sparse_value": try addConstant(attribute.sparseTensor, named: output)
        case "value_float": addConstant(output, ConstantTensor(shape: [], elements: .float32([attribute.f])), type: .float)
        case "value_floats":
            addConstant(output, ConstantTensor(shape: [attribute.floats.count], elements: .float32(attribute.floats)), type: .float)
        case "value_int": addConstant(output, ConstantTensor(shape: [], elements: .int64([attribute.i])), type: .int64)
        case "value_ints":
            addConstant(output, ConstantTensor(shape: [attribute.ints.count], elements: .int64(attribute.ints)), type: .int64)
        default:
            throw node.unsupported("its \(attribute.name) form (strings) is not a type the executor computes in")
        }
    }
}
