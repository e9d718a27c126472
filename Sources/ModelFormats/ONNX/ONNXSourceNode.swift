import Execution

/// One ONNX node as the lowering reads it: the name and type its errors report, absent
/// optional operands as nil, and attributes with the defaults the ONNX spec gives them.
struct ONNXSourceNode {
    let proto: OnnxSubset_NodeProto
    /// The node's name, or its first output when it has none.
    let name: String
    /// Domain-qualified outside the default domain (`com.microsoft.MatMulNBits`).
    let type: String
    /// "" (an omitted optional input) as nil.
    let inputs: [String?]
    /// Omitted optional outputs get a name of their own, so no two nodes write the same value.
    let outputs: [String]

    init(_ proto: OnnxSubset_NodeProto) {
        self.proto = proto
        name = proto.name.isEmpty ? proto.output.first ?? proto.opType : proto.name
        type = ONNXConsumers.qualified(proto)
        inputs = proto.input.map { $0.isEmpty ? nil : $0 }
        let name = name
        outputs = proto.output.enumerated().map { index, output in output.isEmpty ? "\(name)::unused_output_\(index)" : output }
    }

    /// The input at `index`, nil when absent or omitted.
    func input(_ index: Int) -> String? {
        index < inputs.count ? inputs[index] : nil
    }

    func requiredInput(_ index: Int) throws(ExecutionError) -> String {
        guard let input = input(index) else { throw unsupported("its input \(index) is missing") }
        return input
    }

    /// Whether the model reads the output at `index` (it is there and not "").
    func readsOutput(_ index: Int) -> Bool {
        index < proto.output.count && !proto.output[index].isEmpty
    }

    /// An intermediate value of the nodes this one lowers to, named after its first output.
    func intermediate(_ role: String) -> String {
        "\(outputs.first ?? name)::\(role)"
    }

    func unsupported(_ reason: String) -> ExecutionError {
        .unsupportedUse(name: name, type: type, reason: reason)
    }

    private func attribute(_ name: String) -> OnnxSubset_AttributeProto? {
        proto.attribute.first { $0.name == name }
    }

    func int(_ name: String) -> Int? { attribute(name).map { Int($0.i) } }

    func int(_ name: String, default value: Int) -> Int { int(name) ?? value }

    func bool(_ name: String, default value: Bool) -> Bool { int(name).map { $0 != 0 } ?? value }

    func ints(_ name: String) -> [Int]? { attribute(name).map { $0.ints.map { Int($0) } } }

    func float(_ name: String, default value: Float) -> Float { attribute(name)?.f ?? value }

    func string(_ name: String, default value: String) -> String {
        attribute(name).map { String(decoding: $0.s, as: UTF8.self) } ?? value
    }

    func tensor(_ name: String) -> OnnxSubset_TensorProto? {
        attribute(name).flatMap { $0.hasT ? $0.t : nil }
    }

    func has(_ name: String) -> Bool { attribute(name) != nil }

    /// Whether any attribute holds a subgraph (If, Loop, Scan bodies).
    var hasSubgraph: Bool { proto.attribute.contains { $0.hasG || !$0.graphs.isEmpty } }
}
