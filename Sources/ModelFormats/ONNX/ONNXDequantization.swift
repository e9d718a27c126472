/// What replaces one weight: new (sparse) initializers and the nodes that rebuild the weight
/// from them. Exactly one of them produces a value named like the weight, with its type and
/// shape, so the nodes that read the weight stay as they are.
public struct ONNXDequantization: Sendable, Equatable {
    public var initializers: [ONNXTensor]
    public var sparseInitializers: [ONNXSparseTensor]
    /// In topological order.
    public var nodes: [ONNXNode]
    /// The default-domain opset and IR version the nodes and tensor types need.
    public var minimumOpset: Int
    public var minimumIRVersion: Int

    public init(initializers: [ONNXTensor] = [], sparseInitializers: [ONNXSparseTensor] = [], nodes: [ONNXNode] = [],
                minimumOpset: Int = ONNXModel.supportedOpsets.lowerBound,
                minimumIRVersion: Int = ONNXModel.supportedIRVersions.lowerBound) {
        self.initializers = initializers
        self.sparseInitializers = sparseInitializers
        self.nodes = nodes
        self.minimumOpset = minimumOpset
        self.minimumIRVersion = minimumIRVersion
    }

    /// Bytes the stored tensors take: what the weight costs after the rewrite.
    public var byteCount: Int {
        initializers.reduce(0) { $0 + $1.bytes.count }
            + sparseInitializers.reduce(0) { $0 + $1.values.bytes.count + $1.indices.bytes.count }
    }

    /// Every value it defines, in order: initializers, sparse initializers, node outputs.
    var definedNames: [String] {
        initializers.map(\.name) + sparseInitializers.map(\.values.name) + nodes.flatMap(\.outputs)
    }
}
