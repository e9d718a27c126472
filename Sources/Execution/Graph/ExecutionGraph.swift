/// A model's main function lowered onto the executor's own operations: what the ML Program and
/// ONNX adapters build, and the one thing the executor runs. Format rules (MIL's pad types,
/// ONNX's optional inputs and attribute defaults) are resolved by the adapter that builds it.
public struct ExecutionGraph: Sendable {
    public var inputs: [GraphInput]
    /// Names of the values the graph returns, in the model's order.
    public var outputs: [String]
    /// Weights and other constants, dense and widened (float16 → float32) by the adapter.
    public var constants: [String: ConstantTensor]
    /// In an order where every node comes after the nodes it reads from.
    public var nodes: [Node]

    public init(inputs: [GraphInput], outputs: [String], constants: [String: ConstantTensor], nodes: [Node]) {
        self.inputs = inputs
        self.outputs = outputs
        self.constants = constants
        self.nodes = nodes
    }
}

/// A model input as the model declares it: what a dataset is checked against.
public struct GraphInput: Sendable, Equatable {
    public let name: String
    public let elementType: ElementType
    /// nil where the model lets the dimension vary (flexible shapes, ONNX dim_param).
    public let shape: [Int?]
    /// Core ML image inputs: how H×W×C pixels become the tensor the program reads.
    public let image: ImagePreprocessing?

    public init(name: String, elementType: ElementType, shape: [Int?], image: ImagePreprocessing? = nil) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
        self.image = image
    }
}

/// Core ML's image input: the program reads `scale · pixel + bias[channel]` in NCHW, channels in
/// `channelOrder` (coremltools' `ct.ImageType`). A pixel at row y, column x of an H×W×C image
/// whose channels are in `channelOrder` (R,G,B for rgb; B,G,R for bgr; one for grayscale) becomes
/// element [0, c, y, x] of the float [1, C, H, W] input, values 0…255 before scaling.
///
/// For ML Programs coremltools compiles the ImageType's scale and bias into the program itself
/// (a `mul` and an `add` after the input), so the Core ML adapter reports scale 1 and bias 0: the
/// graph applies them, and applying these fields too must not scale twice.
public struct ImagePreprocessing: Sendable, Equatable {
    public enum ChannelOrder: Sendable, Equatable { case rgb, bgr, grayscale }
    public let scale: Float
    /// One per channel, in the program's channel order.
    public let bias: [Float]
    public let channelOrder: ChannelOrder

    public init(scale: Float, bias: [Float], channelOrder: ChannelOrder) {
        self.scale = scale
        self.bias = bias
        self.channelOrder = channelOrder
    }
}

/// One operation of the graph. `inputs` are value names in the operation's own operand order
/// (see `Operation`); nil marks an optional operand that is absent.
public struct Node: Sendable, Equatable {
    /// The model's own op name (ONNX node name or MIL op name; its first output when unnamed):
    /// what the evaluation's per-layer table and `op_name_configs` use.
    public let name: String
    /// The model's own op type ("Conv", "conv", "linear"): what the per-layer table shows.
    public let sourceType: String
    public let operation: Operation
    public let inputs: [String?]
    public let outputs: [String]

    public init(name: String, sourceType: String, operation: Operation, inputs: [String?], outputs: [String]) {
        self.name = name
        self.sourceType = sourceType
        self.operation = operation
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// The element types the executor computes in. Narrower integer and float types are widened
/// when they are read; images and float16 become float32.
public enum ElementType: Sendable, Equatable {
    case float32
    /// Indices, shapes and other integers.
    case int64
    case bool
}
