import Execution
import Foundation
import QuantCore

extension ONNXRewrite {
    /// Inserts activation `QuantizeLinear`→`DequantizeLinear` pairs as onnxruntime's static QDQ
    /// quantization does (`ONNXQDQPlan` says where), given each tensor's calibrated range by
    /// value name, with scales and zero points from `ActivationQuantizationParameters.onnxRuntime`.
    ///
    /// Run it after the weights are replaced: a weight is then the output of its
    /// `DequantizeLinear`, which onnxruntime leaves alone (`tensor_to_producing_dq`) and whose
    /// scale sets its bias's (int32, scale input scale × weight scale, zero point 0).
    ///
    /// As onnxruntime's `QDQQuantizer` writes them: one pair per tensor, read by every node that
    /// read the tensor (`<t>_QuantizeLinear`, `<t>_DequantizeLinear_Output`, `<t>_scale`,
    /// `<t>_zero_point`); a graph output keeps its name on the dequantized value; a tensor
    /// sharing its parameters reuses its provider's scale and zero point; a float initializer an
    /// op quantizes as an activation becomes `<t>_quantized` codes and a `DequantizeLinear`; a
    /// removed Relu or Clip leaves its producer writing its output. Names already taken get a
    /// numeric suffix. Pairs follow their tensor's producer, so the graph stays sorted.
    public mutating func quantizeActivations(_ config: ActivationQuantizationConfig,
                                             ranges: [String: TensorRange]) throws(ONNXError) -> ActivationQuantizationSummary {
        try Self.checkDefinitions(proto.graph)
        let graph = proto.graph
        let plan = ONNXQDQPlan(graph: graph, firstNode: insertedNodeCount, readInSubgraphs: readInSubgraphs, config: config, ranges: ranges)
        var state = Insertion(nodes: graph.node, graphOutputs: Set(graph.output.map(\.name)))
        for removal in plan.removals {
            state.nodes[removal.producer].output = state.nodes[removal.producer].output.map { $0 == removal.upstream ? removal.output : $0 }
        }
        let removed = Set(plan.removals.map(\.node))
        for (index, node) in state.nodes.enumerated() where !removed.contains(index) {
            for output in node.output where !output.isEmpty { state.producers[output] = index }
        }
        let initializers = Dictionary(graph.initializer.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        // Values a DequantizeLinear already computes (weights, or a model's own quantized parts).
        let dequantized = Set(graph.node.filter { $0.opType == "DequantizeLinear" }.flatMap(\.output))

        for name in plan.order {
            guard case .own(let opConfig)? = plan.marks[name] else { continue }
            if let index = initializers[name] {
                quantizeInitializer(graph.initializer[index], opConfig, state: &state)
            } else if !dequantized.contains(name), let range = plan.ranges[name], range.min.isFinite, range.max.isFinite {
                let parameters = ActivationQuantizationParameters.onnxRuntime(min: range.min, max: range.max, opConfig)
                let scale = unique("\(name)_scale"), zeroPoint = unique("\(name)_zero_point")
                state.initializers += [Self.scalar(scale, parameters.scale), Self.zeroPoint(zeroPoint, parameters)]
                insertPair(on: name, scale: scale, zeroPoint: zeroPoint, state: &state)
                state.quantized[name] = .init(scale: scale, zeroPoint: zeroPoint,
                                              tensor: .init(name: name, range: range, parameters: parameters))
            }
        }
        // `_quantize_sharing_param_tensors`: once the provider has its pair; a tensor whose
        // provider never gets one stays float (onnxruntime would loop forever).
        var pending = plan.order.compactMap { name -> (String, String)? in
            guard case .shared(let provider)? = plan.marks[name], !dequantized.contains(name) else { return nil }
            return (name, provider)
        }
        while let next = pending.firstIndex(where: { state.quantized[$0.1] != nil }) {
            let (name, provider) = pending.remove(at: next)
            let source = state.quantized[provider]!
            guard insertPair(on: name, scale: source.scale, zeroPoint: source.zeroPoint, state: &state) else { continue }
            state.quantized[name] = .init(scale: source.scale, zeroPoint: source.zeroPoint,
                                          tensor: .init(name: name, range: source.tensor.range, parameters: source.tensor.parameters))
        }
        for bias in plan.biases where !removed.contains(bias.node) {
            quantizeBias(bias, graph: graph, initializers: initializers, state: &state)
        }
        addWeightZeroPoints(plan: plan, removed: removed, graph: graph, initializers: initializers, state: &state)
        return finish(state, plan: plan, removed: removed)
    }

    /// Every node output defined once and after what it reads (ONNX's rule), which placing a
    /// pair right after its tensor's producer relies on.
    static func checkDefinitions(_ graph: OnnxSubset_GraphProto) throws(ONNXError) {
        var defined = Set(graph.input.map(\.name)).union(graph.initializer.map(\.name)).union(graph.sparseInitializer.map(\.values.name))
        let computed = Set(graph.node.flatMap(\.output))
        for node in graph.node {
            for input in node.input where !input.isEmpty && !defined.contains(input) && computed.contains(input) {
                throw .nodesOutOfOrder(node: node.name.isEmpty ? node.opType : node.name, input: input)
            }
            for output in node.output where !output.isEmpty {
                guard defined.insert(output).inserted else { throw .valueDefinedTwice(output) }
            }
        }
    }

    /// What the insertion has built so far.
    fileprivate struct Insertion {
        struct Quantized {
            let scale: String
            let zeroPoint: String
            let tensor: ActivationQuantizationSummary.Tensor
        }

        var nodes: [OnnxSubset_NodeProto]
        let graphOutputs: Set<String>
        var producers: [String: Int] = [:]
        var quantized: [String: Quantized] = [:]
        /// New nodes that read only initializers or graph inputs, and those following a producer.
        var front: [OnnxSubset_NodeProto] = []
        var after: [Int: [OnnxSubset_NodeProto]] = [:]
        var initializers: [OnnxSubset_TensorProto] = []
        var removedInitializers: Set<String> = []
        /// Readers of a quantized tensor read its dequantized value instead.
        var readerRenames: [String: String] = [:]
        /// A quantized graph output's producer writes the quantize's input instead.
        var producerRenames: [String: String] = [:]
        /// The tensor each new quantize (or an initializer's dequantize) is for, by node output.
        var pairFor: [String: String] = [:]
        var insertedNodes = 0

        init(nodes: [OnnxSubset_NodeProto], graphOutputs: Set<String>) {
            self.nodes = nodes
            self.graphOutputs = graphOutputs
        }
    }

    /// `_add_qdq_pair_for_activation`. False (nothing inserted) for a graph output no node
    /// computes, whose dequantized value could not take its name.
    @discardableResult
    private mutating func insertPair(on name: String, scale: String, zeroPoint: String, state: inout Insertion) -> Bool {
        let producer = state.producers[name]
        var quantizeInput = name, dequantizeOutput: String
        if state.graphOutputs.contains(name) {
            guard producer != nil else { return false }
            quantizeInput = unique("\(name)_QuantizeLinear_Input")
            state.producerRenames[name] = quantizeInput
            dequantizeOutput = name
        } else {
            dequantizeOutput = unique("\(name)_DequantizeLinear_Output")
            state.readerRenames[name] = dequantizeOutput
        }
        let quantized = unique("\(name)_QuantizeLinear_Output")
        let pair = [
            ONNXNode(opType: "QuantizeLinear", name: "\(name)_QuantizeLinear", inputs: [quantizeInput, scale, zeroPoint], outputs: [quantized]),
            ONNXNode(opType: "DequantizeLinear", name: "\(name)_DequantizeLinear", inputs: [quantized, scale, zeroPoint], outputs: [dequantizeOutput]),
        ].map(\.proto)
        state.pairFor[quantized] = name
        if let producer { state.after[producer, default: []] += pair } else { state.front += pair }
        state.insertedNodes += 2
        return true
    }

    /// A float initializer an op reads as an activation (Add's constant, Gather's table):
    /// onnxruntime quantizes it per tensor with the activation type, its range its values'
    /// (`compute_data_quant_params`), codes `round(x / scale) + zero_point` in float32, clipped
    /// to the type (`quantize_nparray`). Left float when it is empty or holds a non-finite value.
    private mutating func quantizeInitializer(_ tensor: OnnxSubset_TensorProto, _ config: ActivationQuantizationConfig.OpConfig,
                                              state: inout Insertion) {
        let values = floats(of: tensor)
        guard let low = values.min(), let high = values.max(), values.allSatisfy(\.isFinite) else { return }
        let parameters = ActivationQuantizationParameters.onnxRuntime(min: low, max: high, config)
        let full = ActivationQuantizationParameters.codeRange(config.dtype, mode: .linear)
        let zero = Float(parameters.zeroPoint)
        let codes = values.map { value -> UInt8 in
            let code = Int32(Swift.min(Swift.max((value / parameters.scale).rounded(.toNearestOrEven) + zero, Float(full.lowerBound)), Float(full.upperBound)))
            return UInt8(truncatingIfNeeded: code)
        }
        let name = tensor.name
        let quantized = unique("\(name)_quantized"), scale = unique("\(name)_scale"), zeroPoint = unique("\(name)_zero_point")
        let output = unique("\(name)_DequantizeLinear_Output")
        state.initializers += [
            ONNXTensor(name: quantized, dataType: Self.codeType(config.dtype), dims: tensor.dims.map(Int.init), bytes: codes).proto,
            Self.scalar(scale, parameters.scale), Self.zeroPoint(zeroPoint, parameters),
        ]
        state.front.append(ONNXNode(opType: "DequantizeLinear", name: "\(name)_DequantizeLinear",
                                    inputs: [quantized, scale, zeroPoint], outputs: [output]).proto)
        state.insertedNodes += 1
        state.pairFor[output] = name
        state.readerRenames[name] = output
        // onnxruntime drops initializers nothing reads any more; a subgraph or the graph's
        // outputs may still read this one.
        if !readInSubgraphs.contains(name) && !state.graphOutputs.contains(name) { state.removedInitializers.insert(name) }
        state.quantized[name] = .init(scale: scale, zeroPoint: zeroPoint,
                                      tensor: .init(name: name, range: TensorRange(min: low, max: high), parameters: parameters))
    }

    /// `quantize_bias_static`: codes round(bias / (input scale × weight scale × beta)) in
    /// float64, clipped to int32, the scale's product in float32; Gemm's beta becomes 1.
    /// Left float where onnxruntime would have to change more than the bias: a bias read by
    /// another node too (onnxruntime copies it), not a float32 vector, a weight without a
    /// per-tensor or per-channel `DequantizeLinear` of matching length (a weight kept float,
    /// or stored per block), an input left float, or a zero scale.
    private mutating func quantizeBias(_ bias: ONNXQDQPlan.Bias, graph: OnnxSubset_GraphProto, initializers: [String: Int],
                                       state: inout Insertion) {
        let readers = graph.node.reduce(0) { $0 + $1.input.count { $0 == bias.bias } }
        guard let index = initializers[bias.bias], !state.removedInitializers.contains(bias.bias),
              readers == 1, !readInSubgraphs.contains(bias.bias), !state.graphOutputs.contains(bias.bias) else { return }
        let tensor = graph.initializer[index]
        guard tensor.dataType == ONNXDataType.float.rawValue, tensor.dims.count == 1,
              let input = state.quantized[bias.input], let weightScales = weightScales(bias.weight, graph: graph, initializers: initializers, state: state)
        else { return }
        let values = floats(of: tensor)
        guard !values.isEmpty, weightScales.count == 1 || weightScales.count == values.count else { return }
        let scales = weightScales.map { input.tensor.parameters.scale * $0 * bias.beta }
        guard scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { return }
        let codes = values.enumerated().map { position, value in
            let code = (Double(value) / Double(scales[scales.count == 1 ? 0 : position])).rounded(.toNearestOrEven)
            return code.isNaN ? 0 : Int32(Swift.min(Swift.max(code, Double(Int32.min)), Double(Int32.max)))
        }
        let name = bias.bias
        let quantized = unique("\(name)_quantized"), scale = unique("\(name)_quantized_scale"), zeroPoint = unique("\(name)_quantized_zero_point")
        let perChannel = scales.count > 1
        state.initializers += [
            ONNXTensor.int32(quantized, dims: tensor.dims.map(Int.init), codes).proto,
            ONNXTensor(name: scale, dataType: .float, dims: [scales.count], bytes: Self.floatBytes(scales)).proto,
            ONNXTensor.int32(zeroPoint, dims: perChannel ? [scales.count] : [], [Int32](repeating: 0, count: scales.count)).proto,
        ]
        state.front.append(ONNXNode(opType: "DequantizeLinear", name: "\(name)_DequantizeLinear", inputs: [quantized, scale, zeroPoint],
                                    outputs: [name], attributes: perChannel ? [.init("axis", .int(0))] : []).proto)
        state.insertedNodes += 1
        state.removedInitializers.insert(name)
        if let beta = state.nodes[bias.node].attribute.firstIndex(where: { $0.name == "beta" }) {
            state.nodes[bias.node].attribute[beta].f = 1
        }
    }

    /// onnxruntime writes every weight's zero point, and its QDQ fusions rely on it: QGemm
    /// refuses a per-channel scale without a zero point of the same shape. A quantized op's
    /// weight whose 8-bit `DequantizeLinear` omits it (quantd's symmetric weights) gets an
    /// explicit zero one, which dequantizes the same.
    private mutating func addWeightZeroPoints(plan: ONNXQDQPlan, removed: Set<Int>, graph: OnnxSubset_GraphProto,
                                              initializers: [String: Int], state: inout Insertion) {
        for index in plan.quantizedNodes where !removed.contains(index) {
            let node = state.nodes[index]
            let weights = switch node.opType {
            case "Conv", "ConvTranspose", "Gemm": Array(node.input.dropFirst().prefix(1))
            case "MatMul": node.input
            default: [String]()
            }
            for weight in weights {
                guard let producer = state.producers[weight], state.nodes[producer].opType == "DequantizeLinear",
                      state.nodes[producer].input.count == 2, let codes = initializers[state.nodes[producer].input[0]],
                      let codeType = ONNXDataType(rawValue: graph.initializer[codes].dataType), [.int8, .uint8].contains(codeType),
                      let scale = initializers[state.nodes[producer].input[1]] else { continue }
                let dims = graph.initializer[scale].dims.map(Int.init)
                let zeroPoint = unique("\(weight)_zero_point")
                state.initializers.append(ONNXTensor(name: zeroPoint, dataType: codeType, dims: dims,
                                                     bytes: [UInt8](repeating: 0, count: dims.reduce(1, *))).proto)
                state.nodes[producer].input.append(zeroPoint)
            }
        }
    }

    /// The scales of the `DequantizeLinear` computing `weight`: one, or one per channel.
    private func weightScales(_ weight: String, graph: OnnxSubset_GraphProto, initializers: [String: Int], state: Insertion) -> [Float]? {
        guard let producer = state.producers[weight] else { return nil }
        let node = state.nodes[producer]
        guard node.opType == "DequantizeLinear", ONNXModel.isDefaultDomain(node.domain), node.input.count >= 2,
              !node.attribute.contains(where: { $0.name == "block_size" }),
              let index = initializers[node.input[1]], graph.initializer[index].dataType == ONNXDataType.float.rawValue,
              graph.initializer[index].dims.count <= 1 else { return nil }
        return floats(of: graph.initializer[index])
    }

    /// Puts the nodes and initializers into the graph and says what was done.
    private mutating func finish(_ state: Insertion, plan: ONNXQDQPlan, removed: Set<Int>) -> ActivationQuantizationSummary {
        var nodes = Array(state.nodes[..<insertedNodeCount]) + state.front
        var original: [(index: Int, node: OnnxSubset_NodeProto)] = []
        for index in state.nodes.indices.dropFirst(insertedNodeCount) where !removed.contains(index) {
            var node = state.nodes[index]
            node.input = node.input.map { state.readerRenames[$0] ?? $0 }
            node.output = node.output.map { state.producerRenames[$0] ?? $0 }
            nodes.append(node)
            original.append((index, node))
            nodes += state.after[index] ?? []
        }
        let upstreams = Set(plan.removals.map(\.upstream))
        proto.graph.valueInfo.removeAll { upstreams.contains($0.name) }
        proto.graph.node = nodes
        proto.graph.initializer.removeAll { state.removedInitializers.contains($0.name) }
        proto.graph.input.removeAll { state.removedInitializers.contains($0.name) }
        proto.graph.initializer += state.initializers

        var summary = ActivationQuantizationSummary(insertedOps: state.insertedNodes)
        for node in nodes {
            guard let output = node.output.first, let name = state.pairFor[output], let quantized = state.quantized[name] else { continue }
            summary.tensors.append(quantized.tensor)
        }
        let dequantizedValues = Set(state.readerRenames.values).union(state.producerRenames.keys)
        let ruled = Set(plan.quantizedNodes)
        summary.quantizedOps = original.filter { ruled.contains($0.index) && $0.node.input.contains(where: dequantizedValues.contains) }
            .map { $0.node.name.isEmpty ? $0.node.output.first ?? $0.node.opType : $0.node.name }
        return summary
    }

    /// A float32 initializer's values (`raw_data` need not be aligned).
    private func floats(of tensor: OnnxSubset_TensorProto) -> [Float] {
        ONNXTensorPayload.withWeightBytes(tensor, files: externalFiles) { bytes in
            (0..<bytes.count / 4).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
    }

    /// `candidate`, or the first of `candidate_1`, `candidate_2` … the graph does not use yet.
    private mutating func unique(_ candidate: String) -> String {
        var name = candidate, suffix = 0
        while names.contains(name) {
            suffix += 1
            name = "\(candidate)_\(suffix)"
        }
        names.insert(name)
        return name
    }

    private static func codeType(_ dtype: ActivationQuantizationConfig.DType) -> ONNXDataType {
        dtype == .int8 ? .int8 : .uint8
    }

    private static func scalar(_ name: String, _ value: Float) -> OnnxSubset_TensorProto {
        ONNXTensor(name: name, dataType: .float, dims: [], bytes: floatBytes([value])).proto
    }

    private static func zeroPoint(_ name: String, _ parameters: ActivationQuantizationParameters) -> OnnxSubset_TensorProto {
        ONNXTensor(name: name, dataType: codeType(parameters.dtype), dims: [], bytes: [UInt8(truncatingIfNeeded: parameters.zeroPoint)]).proto
    }

    private static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }
}
