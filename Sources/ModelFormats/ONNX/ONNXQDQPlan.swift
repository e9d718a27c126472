import Execution
import QuantCore

/// Which tensors onnxruntime's static QDQ quantization (`quantize_static` with
/// `QuantFormat.QDQ`) marks for a quantize/dequantize pair, found the way its `QDQQuantizer`
/// does: `adjust_tensor_ranges` first, then each node in graph order hands its inputs and
/// outputs to the rule its op type has in `registry.py`'s QDQRegistry (`operators/*.py`), or to
/// `QDQOperatorBase` (every input and output) for the other types of `quantize_static`'s
/// default list.
///
/// An op takes part when the config gives it a non-null entry (onnxruntime's
/// `op_types_to_quantize` / `nodes_to_exclude`) and quantd has its rule; ops of other types
/// (Pad, the normalizations, Flatten, …) stay float, though they read the dequantized value
/// of a tensor another op quantized, as in onnxruntime, where every reader does. Weights
/// (Conv, ConvTranspose and Gemm B, MatMul initializers) are the weight compression's; the
/// plan only asks for their biases in int32.
struct ONNXQDQPlan {
    enum Marking: Equatable {
        /// Parameters from the tensor's own range, with the config of the op that marked it first.
        case own(ActivationQuantizationConfig.OpConfig)
        /// The parameters of an input of the op producing it (`quantize_output_same_as_input`).
        case shared(provider: String)
    }

    /// A Conv, ConvTranspose or Gemm bias to store as int32 with scale input scale × weight scale.
    struct Bias {
        let node: Int
        let bias: String
        let input: String
        let weight: String
        /// Gemm's `beta`, folded into the bias scale (onnxruntime's `get_beta`).
        let beta: Float
    }

    /// A removed Relu or Clip: its producer now outputs `output` instead of `upstream`.
    struct Removal {
        let node: Int
        let producer: Int
        let upstream: String
        let output: String
    }

    /// The rule of each op type quantd quantizes, named for onnxruntime's operator class.
    enum Rule {
        /// `QDQOperatorBase`: every input and output.
        case everyInputAndOutput
        /// `QDQConv` and `QDQGemm`: input 0 and the output; input 1 is the weight, input 2 the bias.
        case convolution, gemm
        /// `QDQMatMul`: every input that is not an initializer (those are weights) and the output.
        case matMul
        /// `QDQRemovableActivation`.
        case removableActivation
        /// `QDQDirect8BitOp` (and `QDQMaxPool`, `QDQResize` at the opsets quantd reads): output 0
        /// shares input 0's parameters when input 0 is already marked.
        case sharedOutput
        /// `QDQSplit`: input 0, and every output sharing its parameters.
        case split
        /// `QDQGather`: a float initializer's table is quantized and shared with the output.
        case gather
        /// `QDQWhere`: the outputs, when both value inputs are marked.
        case `where`
    }

    static let rules: [String: Rule] = {
        var rules: [String: Rule] = [
            "Conv": .convolution, "ConvTranspose": .convolution, "Gemm": .gemm, "MatMul": .matMul,
            "Relu": .removableActivation, "Clip": .removableActivation,
            "Split": .split, "Gather": .gather, "GatherElements": .gather, "Where": .where,
        ]
        // quantize_static's default list takes these from QLinearOpsRegistry; QDQ gives them no
        // class of their own.
        for type in ["Add", "Mul", "Concat", "GlobalAveragePool", "Softmax", "Sigmoid", "LeakyRelu", "ArgMax"] {
            rules[type] = .everyInputAndOutput
        }
        for type in ["Reshape", "Transpose", "Squeeze", "Unsqueeze", "AveragePool", "MaxPool", "Resize", "Slice", "TopK"] {
            rules[type] = .sharedOutput
        }
        return rules
    }()

    /// Marked tensors, in the order they were first marked.
    private(set) var order: [String] = []
    private(set) var marks: [String: Marking] = [:]
    private(set) var biases: [Bias] = []
    private(set) var removals: [Removal] = []
    /// Nodes that ran a rule, by index.
    private(set) var quantizedNodes: [Int] = []
    /// The calibrated ranges after `adjust_tensor_ranges`.
    private(set) var ranges: [String: TensorRange]

    private let graph: OnnxSubset_GraphProto
    private let floatInitializers: Set<String>
    private let graphInputs: Set<String>
    private let graphOutputs: Set<String>
    private var producers: [String: Int] = [:]
    private let readers: [String: Int]
    private let readInSubgraphs: Set<String>

    /// `firstNode` skips the nodes a weight replacement put ahead of the graph.
    init(graph: OnnxSubset_GraphProto, firstNode: Int, readInSubgraphs: Set<String>,
         config: ActivationQuantizationConfig, ranges: [String: TensorRange]) {
        self.graph = graph
        self.ranges = ranges
        self.readInSubgraphs = readInSubgraphs
        floatInitializers = Set(graph.initializer.filter { $0.dataType == ONNXDataType.float.rawValue }.map(\.name))
        graphInputs = Set(graph.input.map(\.name))
        graphOutputs = Set(graph.output.map(\.name))
        var readers: [String: Int] = [:]
        for (index, node) in graph.node.enumerated() {
            for input in node.input where !input.isEmpty { readers[input, default: 0] += 1 }
            for output in node.output where !output.isEmpty { producers[output] = index }
        }
        self.readers = readers

        var opConfigs: [Int: (Rule, ActivationQuantizationConfig.OpConfig)] = [:]
        for (index, node) in graph.node.enumerated().dropFirst(firstNode) where ONNXModel.isDefaultDomain(node.domain) {
            guard let rule = Self.rules[node.opType], let opConfig = config.config(opName: node.name, opType: node.opType) else { continue }
            opConfigs[index] = (rule, opConfig)
        }
        adjustRanges(opConfigs)
        for index in opConfigs.keys.sorted() {
            let (rule, opConfig) = opConfigs[index]!
            apply(rule, node: index, opConfig)
            quantizedNodes.append(index)
        }
        quantizedNodes.removeAll { index in removals.contains { $0.node == index } }
    }

    /// `BaseQuantizer.adjust_tensor_ranges`: the input of a Relu or Clip that is its only reader
    /// takes the activation's output range (what survives it), and a Softmax's output is [0, 1].
    private mutating func adjustRanges(_ opConfigs: [Int: (Rule, ActivationQuantizationConfig.OpConfig)]) {
        for index in opConfigs.keys.sorted() {
            let node = graph.node[index]
            switch node.opType {
            case "Relu", "Clip":
                guard let input = node.input.first, let output = node.output.first, readers[input] == 1,
                      ranges[input] != nil, let range = ranges[output] else { continue }
                ranges[input] = range
            case "Softmax":
                if let output = node.output.first { ranges[output] = TensorRange(min: 0, max: 1) }
            default:
                continue
            }
        }
    }

    private mutating func apply(_ rule: Rule, node index: Int, _ config: ActivationQuantizationConfig.OpConfig) {
        let node = graph.node[index]
        let input0 = node.input.first ?? ""
        switch rule {
        case .everyInputAndOutput:
            for name in node.input + node.output { mark(name, config) }
        case .convolution, .gemm:
            mark(input0, config)
            if node.input.count > 1, !floatInitializers.contains(node.input[1]) { mark(node.input[1], config) }
            node.output.first.map { mark($0, config) }
            guard node.input.count > 2, !node.input[2].isEmpty else { return }
            let beta = rule == .gemm ? node.attribute.first { $0.name == "beta" }?.f ?? 1 : 1
            biases.append(Bias(node: index, bias: node.input[2], input: input0, weight: node.input[1], beta: beta))
        case .matMul:
            for name in node.input + node.output where !floatInitializers.contains(name) { mark(name, config) }
        case .removableActivation:
            guard isMarked(input0), let output = node.output.first else { return }
            if config.mode == .linear, let removal = upstreamReplacement(node: index, upstream: input0, output: output) {
                producers[output] = removal.producer
                producers[input0] = nil
                marks[input0] = nil
                order.removeAll { $0 == input0 }
                removals.append(removal)
            } else {
                mark(input0, config)
            }
            mark(output, config)
        case .sharedOutput:
            guard isMarked(input0), let output = node.output.first else { return }
            share(output, with: input0)
        case .split:
            mark(input0, config)
            for output in node.output { share(output, with: input0) }
        case .gather:
            if floatInitializers.contains(input0) { mark(input0, config) }
            guard isMarked(input0), let output = node.output.first else { return }
            share(output, with: input0)
        case .where:
            guard node.input.count == 3, isMarked(node.input[1]), isMarked(node.input[2]) else { return }
            for output in node.output { mark(output, config) }
        }
    }

    /// `QDQQuantizer.try_replacing_upstream_output`: the activation goes when its input has no
    /// other reader, is neither a graph input nor output, and its output has a range; quantd
    /// also wants a producer in the main graph and no subgraph reading the input, which
    /// onnxruntime's rename would leave dangling.
    private func upstreamReplacement(node: Int, upstream: String, output: String) -> Removal? {
        guard ranges[output] != nil, readers[upstream] == 1, !readInSubgraphs.contains(upstream),
              !graphOutputs.contains(upstream), !graphInputs.contains(upstream), let producer = producers[upstream] else { return nil }
        return Removal(node: node, producer: producer, upstream: upstream, output: output)
    }

    /// onnxruntime's `is_tensor_quantized`.
    func isMarked(_ name: String) -> Bool {
        marks[name] != nil || biases.contains { $0.bias == name }
    }

    /// A float initializer (quantized as an activation from its values) or a computed float
    /// tensor, which calibration gave a range: onnxruntime's `_is_tensor_quantizable`.
    func isQuantizable(_ name: String) -> Bool {
        floatInitializers.contains(name) || ranges[name] != nil
    }

    /// `quantize_activation_tensor`: the first marking keeps its config.
    private mutating func mark(_ name: String, _ config: ActivationQuantizationConfig.OpConfig) {
        guard !name.isEmpty, marks[name] == nil, isQuantizable(name) else { return }
        marks[name] = .own(config)
        order.append(name)
    }

    /// `quantize_output_same_as_input`, which replaces an earlier marking.
    private mutating func share(_ name: String, with provider: String) {
        guard !name.isEmpty, isQuantizable(name), !floatInitializers.contains(name) else { return }
        if marks[name] == nil { order.append(name) }
        marks[name] = .shared(provider: provider)
    }
}
