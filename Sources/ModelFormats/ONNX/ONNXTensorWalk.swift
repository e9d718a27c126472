/// Every `TensorProto` of a graph wherever it sits: initializers, sparse initializers' values
/// and indices, and node attributes, subgraphs included. External data can hide in any of them.
enum ONNXTensorWalk {
    static func update(_ graph: inout OnnxSubset_GraphProto,
                       _ body: (inout OnnxSubset_TensorProto) throws(ONNXError) -> Void) throws(ONNXError) {
        for index in graph.initializer.indices { try body(&graph.initializer[index]) }
        for index in graph.sparseInitializer.indices { try update(&graph.sparseInitializer[index], body) }
        for node in graph.node.indices {
            for index in graph.node[node].attribute.indices {
                try update(&graph.node[node].attribute[index], body)
            }
        }
    }

    private static func update(_ attribute: inout OnnxSubset_AttributeProto,
                               _ body: (inout OnnxSubset_TensorProto) throws(ONNXError) -> Void) throws(ONNXError) {
        if attribute.hasT { try body(&attribute.t) }
        for index in attribute.tensors.indices { try body(&attribute.tensors[index]) }
        if attribute.hasSparseTensor { try update(&attribute.sparseTensor, body) }
        if attribute.hasG { try update(&attribute.g, body) }
        for index in attribute.graphs.indices { try update(&attribute.graphs[index], body) }
    }

    private static func update(_ sparse: inout OnnxSubset_SparseTensorProto,
                               _ body: (inout OnnxSubset_TensorProto) throws(ONNXError) -> Void) throws(ONNXError) {
        if sparse.hasValues { try body(&sparse.values) }
        if sparse.hasIndices { try body(&sparse.indices) }
    }
}
