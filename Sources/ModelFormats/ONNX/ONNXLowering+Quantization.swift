import Execution

extension ONNXLowering {
    /// DequantizeLinear and QuantizeLinear: per tensor, per axis, or (opset 21) in blocks.
    mutating func lowerQuantization(_ node: ONNXSourceNode) throws(ExecutionError) -> Bool {
        let axis = node.int("axis", default: 1)
        let blockSize = node.int("block_size", default: 0)
        switch node.proto.opType {
        case "DequantizeLinear":
            emit(node, .dequantizeLinear(axis: axis, blockSize: blockSize == 0 ? nil : blockSize))
        case "QuantizeLinear":
            // The output takes the zero point's type (else output_dtype, opset 21; else
            // uint8), which sets the range it saturates to.
            let outputType: ONNXDataType?
            if let zeroPoint = node.input(2) {
                guard let type = type(of: zeroPoint) else {
                    throw node.unsupported("the type of its zero point '\(zeroPoint)' is not known before running")
                }
                outputType = type
            } else if let declared = node.int("output_dtype"), declared != 0 {
                outputType = ONNXDataType(rawValue: Int32(clamping: declared))
            } else {
                outputType = .uint8
            }
            guard let range = outputType?.integerRange else {
                throw node.unsupported("quantizing to \(outputType.map { "\($0)" } ?? "an unknown type") is not implemented (integer types only)")
            }
            emit(node, .quantizeLinear(axis: axis, blockSize: blockSize == 0 ? nil : blockSize, range: range))
        default:
            return false
        }
        return true
    }

    /// onnxruntime's com.microsoft.MatMulNBits with uint8 zero points, as quantd and
    /// onnxruntime's MatMulNBitsQuantizer write it.
    mutating func lowerMatMulNBits(_ node: ONNXSourceNode) throws(ExecutionError) {
        guard let k = node.int("K"), let n = node.int("N"), let blockSize = node.int("block_size") else {
            throw node.unsupported("it lacks one of the K, N and block_size attributes")
        }
        guard node.input(4) == nil, node.input(5) == nil else { throw node.unsupported("its g_idx and bias inputs are not implemented") }
        if let zeroPoints = node.input(3), type(of: zeroPoints) != .uint8 {
            throw node.unsupported("zero points that are not packed uint8 are not implemented")
        }
        emit(node, .matMulNBits(k: k, n: n, bits: node.int("bits", default: 4), blockSize: blockSize), inputs: Array(node.inputs.prefix(4)))
    }
}
