import ModelFormats

/// What each operation of a graph costs, in numbers that can be checked by hand: multiply-
/// accumulates, activation bytes read and written, and weight bytes in the form stored.
///
/// MACs count the multiply-accumulates of convolutions and matrix products only, as papers
/// and torchvision do (ResNet50 at 224×224: 4.1 G). Parameters count float weights as
/// training counts them: batch-norm running mean and variance are statistics, not parameters.
public struct GraphCost: Sendable {
    public struct Operation: Sendable, Equatable {
        public let name: String
        public let type: String
        public let category: OpCategory
        public let macs: Int
        /// Activation tensors read plus written, at the graph's activation precision.
        public let activationBytes: Int
        /// Float weight elements this op reads (dense count).
        public let weightElements: Int
        /// Bytes of those weights in the form stored.
        public let weightBytes: Int
        public let parameters: Int
        /// The form of the op's main weight (`weight` or the constant matmul operand), if any.
        public let weightForm: StoredWeightForm?
        public let weightName: String?
        /// What the model's own quantize/dequantize ops say of this op's activations.
        public var activations: ActivationForm = .float
    }

    /// Where an activation-quantized model (W8A8, as coremltools or quantd write it) runs in
    /// int8, read from its quantize/dequantize ops rather than assumed for the whole graph.
    public enum ActivationForm: Sendable, Equatable {
        case float
        /// Every activation the op reads comes through a dequantize: the runtime fuses the
        /// pattern into an int8 kernel.
        case int8
        /// A quantize or dequantize where int8 and float regions meet: a pass over the tensor.
        case transition
        /// A quantize or dequantize inside an int8 region, absorbed into the int8 kernels.
        case absorbed
    }

    public let operations: [Operation]

    /// `assumingInt8Activations`: the cost of the graph once its activations are quantized as
    /// coremltools' `linear_quantize_activations` would quantize them (`assumeActivationQuantization`),
    /// for a float model a user asks about before calibrating. A graph that already has its
    /// own quantize/dequantize ops is read as it is.
    public init(graph: OpGraph, assumingInt8Activations: Bool = false) {
        var operations = graph.operations.map(Self.cost)
        if assumingInt8Activations && !operations.contains(where: { $0.type == "quantize" || $0.type == "dequantize" }) {
            Self.assumeActivationQuantization(&operations, graph: graph)
        } else {
            Self.markActivationForms(&operations, graph: graph)
        }
        self.operations = operations
    }

    /// Which op writes each tensor, and which ops read it (indices into the graph's ops).
    static func links(_ graph: OpGraph) -> (producer: [String: Int], readers: [String: [Int]]) {
        var producer: [String: Int] = [:]
        var readers: [String: [Int]] = [:]
        for (index, op) in graph.operations.enumerated() {
            for output in op.outputs { producer[output.name] = index }
            for (_, values) in op.inputs {
                for case .activation(let tensor) in values { readers[tensor.name, default: []].append(index) }
            }
        }
        return (producer, readers)
    }

    /// coremltools' op selection (`MLProgramModel.activationQuantizedOpTypes`, every quantized
    /// input computed rather than constant) run on a float graph: those ops run in int8, batch
    /// norm and activations after them stay in their int8 region (the compiler fuses them), and
    /// a transition is added for each tensor where the regions meet: a quantize where a float
    /// value enters an int8 op, a dequantize where an int8 value reaches a float op. Model
    /// outputs stay as the int8 op writes them, as the quantizer leaves them. Matmul, softmax
    /// and normalizations stay float16: a transformer comes out mixed.
    static func assumeActivationQuantization(_ operations: inout [Operation], graph: OpGraph) {
        let readers = links(graph).readers
        func quantizedInputs(_ op: OpGraph.Operation) -> [OpGraph.Value?] {
            (op.type == "add" ? ["x", "y"] : ["x"]).map { op.input($0) }
        }
        var tensors: [String: OpGraph.Tensor] = [:]
        for index in graph.operations.indices where MLProgramModel.activationQuantizedOpTypes.contains(graph.operations[index].type) {
            let inputs = quantizedInputs(graph.operations[index])
            guard inputs.allSatisfy({ if case .activation? = $0 { true } else { false } }) else { continue }
            operations[index].activations = .int8
        }
        // Values computed in int8: an int8 op's output, and what fused ops make of one.
        var int8Values: Set<String> = []
        for (index, op) in graph.operations.enumerated() {
            let fromInt8 = operations[index].category == .fusedElementwise
                && op.inputs.flatMap(\.values).contains { if case .activation(let t) = $0 { int8Values.contains(t.name) } else { false } }
            if operations[index].activations == .int8 || fromInt8 {
                for output in op.outputs { int8Values.insert(output.name); tensors[output.name] = output }
            }
        }
        var transitions: [Operation] = []
        func transition(_ kind: String, _ tensor: OpGraph.Tensor) {
            let elements = tensor.elementCount ?? 0
            transitions.append(Operation(name: "\(tensor.name)_\(kind)", type: kind, category: .elementwise, macs: 0,
                                         activationBytes: tensor.byteCount.saturatingAdding(elements), weightElements: 0, weightBytes: 0,
                                         parameters: 0, weightForm: nil, weightName: nil, activations: .transition))
        }
        var quantized: Set<String> = []
        for (index, op) in graph.operations.enumerated() where operations[index].activations == .int8 {
            for case .activation(let tensor)? in quantizedInputs(op) where !int8Values.contains(tensor.name) && quantized.insert(tensor.name).inserted {
                transition("quantize", tensor)
            }
        }
        for name in int8Values.sorted() {
            let float = (readers[name] ?? []).contains { reader in
                operations[reader].activations != .int8 && !(operations[reader].category == .fusedElementwise
                    && graph.operations[reader].outputs.allSatisfy { int8Values.contains($0.name) })
            }
            if float, let tensor = tensors[name] { transition("dequantize", tensor) }
        }
        operations += transitions
    }

    /// Ops of the types coremltools quantizes whose activation inputs all come from dequantize
    /// ops run in int8 (a softmax reading one stays float16); a dequantize all
    /// of whose readers do, and a quantize of such an op's output (or of the activation fused
    /// after it), are absorbed; every other quantize/dequantize is a transition.
    static func markActivationForms(_ operations: inout [Operation], graph: OpGraph) {
        let (producer, readers) = links(graph)
        func activationInputs(_ index: Int) -> [String] {
            graph.operations[index].inputs.flatMap { $0.values }.compactMap { value in
                if case .activation(let tensor) = value { return tensor.name }
                return nil
            }
        }
        let quantization: Set = ["quantize", "dequantize"]
        for index in operations.indices where MLProgramModel.activationQuantizedOpTypes.contains(operations[index].type) {
            let inputs = activationInputs(index)
            if !inputs.isEmpty, inputs.allSatisfy({ producer[$0].map { graph.operations[$0].type == "dequantize" } ?? false }) {
                operations[index].activations = .int8
            }
        }
        for index in operations.indices where quantization.contains(operations[index].type) {
            let absorbed: Bool
            if operations[index].type == "dequantize" {
                let users = graph.operations[index].outputs.flatMap { readers[$0.name] ?? [] }
                absorbed = !users.isEmpty && users.allSatisfy { operations[$0].activations == .int8 }
            } else {
                var source = activationInputs(index).first.flatMap { producer[$0] }
                if let s = source, operations[s].category == .fusedElementwise {
                    source = activationInputs(s).first.flatMap { producer[$0] }
                }
                absorbed = source.map { operations[$0].activations == .int8 } ?? false
            }
            operations[index].activations = absorbed ? .absorbed : .transition
        }
    }

    public var macs: Int { operations.reduce(0) { $0.saturatingAdding($1.macs) } }
    public var parameters: Int { operations.reduce(0) { $0 + $1.parameters } }
    public var weightBytes: Int { operations.reduce(0) { $0 + $1.weightBytes } }
    /// Weight bytes if every weight were stored dense at 16 bits: the float16 baseline.
    public var float16WeightBytes: Int { operations.reduce(0) { $0 + $1.weightElements * 2 } }
    /// The most activation bytes any one op touches: a floor for runtime activation memory.
    public var peakActivationBytes: Int { operations.map(\.activationBytes).max() ?? 0 }

    static func cost(_ op: OpGraph.Operation) -> Operation {
        var weightElements = 0, weightBytes = 0, parameters = 0, activationBytes = 0
        for (parameter, values) in op.inputs {
            for value in values {
                switch value {
                case .activation(let tensor):
                    activationBytes = activationBytes.saturatingAdding(tensor.byteCount)
                case .constant(let constant):
                    guard constant.tensor.isFloat, let count = constant.tensor.elementCount, !(constant.tensor.shape ?? []).isEmpty else { continue }
                    weightElements += count
                    weightBytes += constant.storedBytes
                    if !(op.type == "batch_norm" && (parameter == "mean" || parameter == "variance")) { parameters += count }
                }
            }
        }
        activationBytes = op.outputs.reduce(activationBytes) { $0.saturatingAdding($1.byteCount) }
        let main = (op.input("weight") ?? matmulConstantOperand(op)).flatMap { value -> OpGraph.Constant? in
            if case .constant(let c) = value { return c }
            return nil
        }
        let category = OpCategory(op, weight: main)
        return Operation(name: op.name, type: op.type, category: category, macs: macs(op, category: category),
                         activationBytes: activationBytes, weightElements: weightElements, weightBytes: weightBytes,
                         parameters: parameters, weightForm: main?.form, weightName: main?.weightName)
    }

    private static func matmulConstantOperand(_ op: OpGraph.Operation) -> OpGraph.Value? {
        guard op.type == "matmul" else { return nil }
        for parameter in ["y", "x"] { if case .constant? = op.input(parameter) { return op.input(parameter) } }
        return nil
    }

    /// Multiply-accumulates from the shapes alone: every output element of a convolution
    /// sums `weight.shape[1...]` products (conv_transpose: every input element scatters them);
    /// a matrix product sums its inner dimension.
    static func macs(_ op: OpGraph.Operation, category: OpCategory) -> Int {
        let outputElements = op.outputs.first?.elementCount ?? 0
        switch op.type {
        case "conv", "linear":
            guard let weight = op.input("weight")?.tensor.shape, weight.count >= 2 else { return 0 }
            return outputElements.saturatingMultiplied(by: Self.product(weight.dropFirst()))
        case "conv_transpose":
            guard let weight = op.input("weight")?.tensor.shape, weight.count >= 2,
                  let inputElements = op.input("x")?.tensor.elementCount else { return 0 }
            return inputElements.saturatingMultiplied(by: Self.product(weight.dropFirst()))
        case "scaled_dot_product_attention":
            // softmax(Q·Kᵀ)·V: L·S·E products for the scores, L·S·Ev for the weighted sum.
            guard let q = op.input("query")?.tensor.shape, let k = op.input("key")?.tensor.shape, let v = op.input("value")?.tensor.shape,
                  q.count >= 2, k.count >= 2, v.count >= 2 else { return 0 }
            let (l, e, s, ev) = (q[q.count - 2], q[q.count - 1], k[k.count - 2], v[v.count - 1])
            return Self.product(q.dropLast(2) + [l, s, e.saturatingAdding(ev)])
        case "matmul":
            guard let x = op.input("x")?.tensor.shape, x.count >= 1 else { return 0 }
            let transposed = Self.flag(op, "transpose_x")
            let inner = transposed && x.count >= 2 ? x[x.count - 2] : x[x.count - 1]
            return outputElements.saturatingMultiplied(by: inner)
        default:
            return 0
        }
    }

    private static func flag(_ op: OpGraph.Operation, _ parameter: String) -> Bool {
        if case .constant(let c)? = op.input(parameter) { return c.integers?.first == 1 }
        return false
    }
}

/// What kind of work an op is, for the throughput a compute unit reaches on it.
public enum OpCategory: String, Sendable, Codable {
    /// Dense convolution or matrix product: compute-bound when large.
    case matrix
    /// Depthwise (or small-group) convolution: few MACs per byte, runs far below peak.
    case depthwise
    /// Batch norm and activations, which compilers fuse into the producing op.
    case fusedElementwise
    /// Elementwise ops that stand alone (residual adds, multiplies): bytes only.
    case elementwise
    /// Pooling, reductions, softmax and normalization: one pass over their input.
    case reduction
    /// Reshape, transpose, concat, gather: data movement.
    case dataMovement

    init(_ op: OpGraph.Operation, weight: OpGraph.Constant?) {
        switch op.type {
        case "conv", "conv_transpose":
            let shape = weight?.tensor.shape ?? []
            self = shape.count >= 2 && shape[1] == 1 && shape[0] > 1 ? .depthwise : .matrix
        case "linear", "matmul", "einsum", "scaled_dot_product_attention": self = .matrix
        case "batch_norm", "relu", "relu6", "clip", "sigmoid", "silu", "gelu", "tanh", "leaky_relu", "prelu", "scaled_tanh",
             "sigmoid_hard", "softplus", "elu", "thresholded_relu": self = .fusedElementwise
        case "add", "sub", "mul", "real_div", "maximum", "minimum", "pow", "sqrt", "rsqrt", "exp", "log", "cast", "select",
             "logical_and", "logical_or", "equal", "not_equal", "greater", "less", "abs", "inverse", "square", "erf": self = .elementwise
        case "max_pool", "avg_pool", "l2_pool", "reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "softmax",
             "layer_norm", "instance_norm", "l2_norm", "local_response_norm", "reduce_l2_norm",
             "upsample_nearest_neighbor", "upsample_bilinear", "resize_bilinear":
            self = .reduction
        default: self = .dataMovement
        }
    }
}

extension OpGraph.Tensor {
    var byteCount: Int { (elementCount ?? 0).saturatingMultiplied(by: elementBits).saturatingAdding(7) / 8 }
}

extension GraphCost {
    /// The product of sizes, saturating: see `Int.saturatingMultiplied(by:)`.
    static func product<C: Collection<Int>>(_ sizes: C) -> Int {
        sizes.reduce(1) { $0.saturatingMultiplied(by: $1) }
    }
}

/// Costs come from the shapes a model declares, which a hostile model can make as large as it
/// likes: their sums and products saturate at Int.max instead of trapping.
extension Int {
    func saturatingAdding(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    func saturatingMultiplied(by other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
