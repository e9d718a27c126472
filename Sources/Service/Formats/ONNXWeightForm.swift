/// How an ONNX artifact stores linearly quantized MatMul weights (the job's `onnx_format`):
/// standard `DequantizeLinear` nodes any runtime reads, or onnxruntime's `MatMulNBits`.
enum ONNXWeightForm: String, Sendable, CaseIterable {
    case qdq
    case matMulNBits = "matmul_nbits"

    /// From the job's `onnx_format` value.
    init(named value: Any) throws {
        guard let name = value as? String, let form = ONNXWeightForm(rawValue: name) else {
            throw Problem.invalidConfig("onnx_format must be one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))", field: "onnx_format")
        }
        self = form
    }
}
