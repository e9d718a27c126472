import Execution

/// Builds the executor's nodes from an ONNX graph's nodes, one op family per extension file.
/// ONNX's defaults and opset differences are resolved here, so the executor sees one form of
/// each op; a node it cannot express exactly is refused, never approximated.
struct ONNXLowering {
    /// The default-domain opset the model imports: where ops changed form (Reduce* axes at 18,
    /// GroupNormalization's scale at 21), the model's opset picks the form.
    let opset: Int
    let files: [String: EntryData]
    private(set) var constants: [String: ConstantTensor] = [:]
    private(set) var nodes: [Node] = []
    /// ONNX element types of constants and declared values: QuantizeLinear's range and
    /// MatMulNBits' zero points depend on the stored type, which the executor widens away.
    private var types: [String: ONNXDataType] = [:]
    /// Ranks known before running (constants, declared shapes, and values computed from them
    /// by rank-keeping ops): Conv's defaults and LayerNormalization's axes need the rank.
    private var ranks: [String: Int] = [:]

    init(opset: Int, files: [String: EntryData]) {
        self.opset = opset
        self.files = files
    }

    mutating func declare(_ value: OnnxSubset_ValueInfoProto) {
        guard case .tensorType(let tensor)? = value.type.value else { return }
        if let type = ONNXDataType(rawValue: tensor.elemType) { types[value.name] = type }
        if tensor.hasShape { ranks[value.name] = tensor.shape.dim.count }
    }

    mutating func addConstant(_ name: String, _ tensor: ConstantTensor, type: ONNXDataType? = nil) {
        constants[name] = tensor
        ranks[name] = tensor.shape.count
        if let type { types[name] = type }
    }

    mutating func addConstant(_ tensor: OnnxSubset_TensorProto, named name: String) throws(ExecutionError) {
        addConstant(name, try ONNXTensorPayload.constant(tensor, files: files), type: ONNXDataType(rawValue: tensor.dataType))
    }

    mutating func addConstant(_ sparse: OnnxSubset_SparseTensorProto, named name: String) throws(ExecutionError) {
        addConstant(name, try ONNXTensorPayload.constant(sparse, files: files), type: ONNXDataType(rawValue: sparse.values.dataType))
    }

    func type(of value: String) -> ONNXDataType? { types[value] }

    func rank(of value: String?) -> Int? { value.flatMap { ranks[$0] } }

    /// One executor node standing for `source`: named and typed as the ONNX node, so run-time
    /// errors and the per-layer table name what the user's model calls it.
    mutating func emit(_ source: ONNXSourceNode, _ operation: Operation, inputs: [String?]? = nil, outputs: [String]? = nil) {
        nodes.append(Node(name: source.name, sourceType: source.type, operation: operation,
                          inputs: inputs ?? source.inputs, outputs: outputs ?? source.outputs))
    }

    mutating func lower(_ proto: OnnxSubset_NodeProto) throws(ExecutionError) {
        let node = ONNXSourceNode(proto)
        guard !node.hasSubgraph else { throw .unsupportedOperation(name: node.name, type: node.type) }
        var handled = false
        if ONNXModel.isDefaultDomain(proto.domain) {
            // Each family lowers the op types it knows and answers false for the rest.
            handled = try lowerElementwise(node)
            if !handled { handled = try lowerLayout(node) }
            if !handled { handled = try lowerReduction(node) }
            if !handled { handled = try lowerConvolution(node) }
            if !handled { handled = try lowerNormalization(node) }
            if !handled { handled = try lowerQuantization(node) }
        } else if proto.domain == "com.microsoft", proto.opType == "MatMulNBits" {
            try lowerMatMulNBits(node)
            handled = true
        }
        guard handled else { throw .unsupportedOperation(name: node.name, type: node.type) }
        recordRanks(node)
    }

    /// The ranks of outputs of ops that keep or combine their operands' ranks: enough to follow
    /// a compressed weight (DequantizeLinear, a palette's Cast → Gather → Mul) to its reader.
    private mutating func recordRanks(_ node: ONNXSourceNode) {
        guard let output = node.outputs.first else { return }
        let known = node.inputs.map { rank(of: $0) }
        let outputRank: Int?
        switch node.proto.opType {
        case "DequantizeLinear", "QuantizeLinear", "Cast", "Identity", "Transpose", "Relu", "Neg", "Abs", "Sqrt",
             "Reciprocal", "Exp", "Log", "Sigmoid", "Tanh", "Erf", "Softmax", "Clip", "Dropout":
            outputRank = known.first ?? nil
        case "Add", "Sub", "Mul", "Div", "Pow", "Where":
            outputRank = known.contains { $0 == nil } ? nil : known.compactMap { $0 }.max()
        case "Gather":
            outputRank = known.count == 2 ? known[0].flatMap { data in known[1].map { data + $0 - 1 } } : nil
        case "Reshape":
            outputRank = node.input(1).flatMap { constants[$0] }?.shape.first
        default:
            outputRank = nil
        }
        if let outputRank { ranks[output] = outputRank }
    }
}
