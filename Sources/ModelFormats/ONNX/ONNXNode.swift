/// A node a rewrite adds to the graph.
public struct ONNXNode: Sendable, Equatable {
    public var opType: String
    /// "" for the default (ai.onnx) domain, "com.microsoft" for onnxruntime's contrib ops.
    public var domain: String
    public var name: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [ONNXAttribute]

    public init(opType: String, domain: String = "", name: String = "", inputs: [String], outputs: [String],
                attributes: [ONNXAttribute] = []) {
        self.opType = opType
        self.domain = domain
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    var proto: OnnxSubset_NodeProto {
        var node = OnnxSubset_NodeProto()
        node.opType = opType
        node.domain = domain
        node.name = name
        node.input = inputs
        node.output = outputs
        node.attribute = attributes.map(\.proto)
        return node
    }
}
