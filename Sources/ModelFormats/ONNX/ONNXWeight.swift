import QuantCore

/// A float weight of an ONNX model: an initializer of the main graph, or the `value` of a
/// `Constant` node there, with what reads it (for `op_type_configs` and the quantization axes).
public struct ONNXWeight: Sendable, Equatable {
    enum Source: Sendable, Equatable {
        case initializer(Int)
        case constant(node: Int)
    }

    /// The value name consumers read (the initializer's name, the Constant's output).
    public let name: String
    public let shape: [Int]
    public let scalarType: ScalarType
    /// Types of the nodes that read it, in graph order, duplicates removed; outside the
    /// default domain prefixed with theirs (`com.microsoft.MatMulNBits`).
    public let consumerTypes: [String]
    /// The output-channel axis its readers imply (see `ONNXConsumers.outputAxis`); nil when
    /// they disagree or read it as something other than a weight.
    public let outputAxis: Int?
    /// The axis per-block quantization blocks along, paired with `outputAxis`.
    public let inputAxis: Int?
    /// Why the weight must stay as it is (it is read inside a subgraph); nil when it may be
    /// replaced. An initializer also listed as a graph input (as exporters with
    /// `keep_initializers_as_inputs` write them) may be: the rewrite drops that input, as
    /// onnxruntime's own quantizers do.
    public let keptBecause: String?
    /// The largest `group` of the Conv/ConvTranspose nodes that read it (1 for other readers):
    /// each group sees only its share of the weight's first axis.
    public let convolutionGroups: Int
    let source: Source

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * scalarType.byteWidth }
}
