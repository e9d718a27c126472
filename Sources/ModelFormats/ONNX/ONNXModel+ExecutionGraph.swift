import Execution

extension ONNXModel {
    /// The main graph lowered onto the executor's operations. Constants are copied out of the
    /// upload (and widened: float types to float32, integers to int64), so the graph stays
    /// valid after the model and its upload are gone.
    ///
    /// Throws `.unsupportedOperation` for an op (or domain) the executor has no kernel for,
    /// If/Loop/Scan included, and `.unsupportedUse` for a known op used in a way it does not
    /// implement.
    public func executionGraph() throws(ExecutionError) -> ExecutionGraph {
        let graph = proto.graph
        var lowering = ONNXLowering(opset: opsetVersion, files: externalFiles)
        for value in graph.input + graph.valueInfo + graph.output { lowering.declare(value) }
        for tensor in graph.initializer { try lowering.addConstant(tensor, named: tensor.name) }
        for sparse in graph.sparseInitializer { try lowering.addConstant(sparse, named: sparse.values.name) }
        let inputs = try graph.input.filter { lowering.constants[$0.name] == nil }.map { value throws(ExecutionError) in
            try Self.graphInput(value)
        }
        for node in graph.node { try lowering.lower(node) }
        return ExecutionGraph(inputs: inputs, outputs: graph.output.map(\.name), constants: lowering.constants, nodes: lowering.nodes)
    }

    /// A declared input: its element type widened as the executor computes, dimensions given
    /// by name (dim_param) or not at all as nil.
    private static func graphInput(_ value: OnnxSubset_ValueInfoProto) throws(ExecutionError) -> GraphInput {
        guard case .tensorType(let tensor)? = value.type.value, let type = ONNXDataType(rawValue: tensor.elemType), let element = type.executionElementType else {
            throw .unsupportedUse(name: value.name, type: "graph input",
                                  reason: "its type (ONNX element type \(value.type.tensorType.elemType), or not a tensor) is not one the executor computes in")
        }
        let shape = tensor.shape.dim.map { dim -> Int? in
            if case .dimValue(let size)? = dim.value, size >= 0 { Int(size) } else { nil }
        }
        return GraphInput(name: value.name, elementType: element, shape: shape)
    }
}
