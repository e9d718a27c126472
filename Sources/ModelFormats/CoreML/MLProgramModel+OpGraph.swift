/// The op graph of an ML Program's main function, from the types coremltools declares on
/// every value (so no shape inference is needed), with constexpr chains folded into the
/// constants they produce.
extension MLProgramModel {
    public var opGraph: OpGraph {
        let functions = specification.mlProgram.functions
        guard let name = functions["main"] != nil ? "main" : functions.keys.sorted().first,
              let function = functions[name], let block = function.blockSpecializations[function.opset] else {
            return OpGraph(operations: [], inputs: [])
        }
        var builder = OpGraphBuilder()
        let inputs = function.inputs.map { OpGraphBuilder.tensor(name: $0.name, type: $0.type) }
        Self.forEachOperation(in: block) { builder.add($0) }
        return OpGraph(operations: builder.operations, inputs: inputs)
    }
}

private struct OpGraphBuilder {
    var operations: [OpGraph.Operation] = []
    var constants: [String: OpGraph.Constant] = [:]

    static func tensor(name: String, type: CoreML_Specification_MILSpec_ValueType) -> OpGraph.Tensor {
        guard case .tensorType(let tensor)? = type.type else {
            return OpGraph.Tensor(name: name, shape: nil, elementBits: 0, isFloat: false)
        }
        let dataType = MILBlobDataType(tensor.dataType)
        let bits = dataType?.bitWidth ?? (tensor.dataType == .bool ? 8 : tensor.dataType == .int64 ? 64 : 32)
        let isFloat = [.float16, .float32, .bfloat16].contains(dataType)
        return OpGraph.Tensor(name: name, shape: MLProgramModel.shape(tensor), elementBits: bits, isFloat: isFloat)
    }

    mutating func add(_ op: CoreML_Specification_MILSpec_Operation) {
        let outputs = op.outputs.map { Self.tensor(name: $0.name, type: $0.type) }
        let name = MLProgramModel.opName(op) ?? outputs.first?.name ?? op.type
        if op.type == "const" {
            guard let output = outputs.first, let value = op.attributes["val"] else { return }
            constants[output.name] = Self.constant(output, name: name, value: value)
            return
        }
        var inputs = op.inputs.keys.sorted().map { parameter in
            (parameter: parameter, values: op.inputs[parameter]!.arguments.compactMap { argument -> OpGraph.Value? in
                switch argument.binding {
                case .name(let name)?:
                    if let constant = constants[name] { return .constant(constant) }
                    return .activation(tensors[name] ?? OpGraph.Tensor(name: name, shape: nil, elementBits: 16, isFloat: true))
                case .value(let value)?:
                    // Values written inline (iOS18 constexpr parameters, small immediates).
                    return .constant(Self.constant(Self.tensor(name: "\(name).\(parameter)", type: value.type), name: name, value: value))
                case nil:
                    return nil
                }
            })
        }
        if op.type.hasPrefix("constexpr_") {
            // iOS16 constexpr ops carry their parameters as attributes.
            for key in op.attributes.keys.sorted() where key != "name" {
                let value = op.attributes[key]!
                let constant = Self.constant(Self.tensor(name: "\(name).\(key)", type: value.type), name: name, value: value)
                inputs.append((parameter: key, values: [.constant(constant)]))
            }
            fold(op.type, name: name, inputs: inputs, outputs: outputs)
            return
        }
        for output in outputs { tensors[output.name] = output }
        operations.append(OpGraph.Operation(type: op.type, name: name, inputs: inputs, outputs: outputs))
    }

    var tensors: [String: OpGraph.Tensor] = [:]

    /// A constexpr op's outputs become constants stored as the sum of what it reads, in the
    /// form its type and inputs say, named after the op (a rewritten weight keeps its const's
    /// name on the last op of its chain).
    private mutating func fold(_ type: String, name: String, inputs: [(parameter: String, values: [OpGraph.Value])], outputs: [OpGraph.Tensor]) {
        let read = inputs.flatMap { input in input.values.compactMap { value -> (String, OpGraph.Constant)? in
            if case .constant(let c) = value { return (input.parameter, c) }
            return nil
        } }
        func input(_ parameter: String) -> OpGraph.Constant? { read.first { $0.0 == parameter }?.1 }
        // The output shape and axis describe the tensor; everything else read is stored data.
        let storedBytes = read.filter { !["shape", "axis"].contains($0.0) }.reduce(0) { $0 + $1.1.storedBytes }
        // Sparsity travels down a chain; the last op decides how values are coded.
        let upstreamDensity = read.map(\.1.form.density).min() ?? 1
        var form: StoredWeightForm
        switch type {
        case "constexpr_affine_dequantize":
            form = StoredWeightForm(kind: .linear, bits: input("quantized_data")?.form.bits ?? 8, density: upstreamDensity)
        case "constexpr_blockwise_shift_scale", "constexpr_sparse_blockwise_shift_scale":
            let data = input("data") ?? input("nonzero_data")
            let scale = input("scale")?.tensor.shape ?? []
            let perBlock = zip(scale, outputs.first?.shape ?? []).contains { 1 < $0 && $0 < $1 }
            form = StoredWeightForm(kind: .linear, bits: data?.form.bits ?? 8, perBlock: perBlock, density: upstreamDensity)
        case "constexpr_lut_to_dense", "constexpr_lut_to_sparse":
            // The table is [2^n] (iOS16) or [groups…, 2^n, vector] (iOS18).
            let lut = input("lut")?.tensor.shape ?? []
            let entries = lut.count > 1 ? lut[lut.count - 2] : lut.first ?? 256
            let grouped = lut.count > 2 && lut.dropLast(2).contains { $0 > 1 }
            let bits = max(1, Int.bitWidth - (max(entries, 2) - 1).leadingZeroBitCount)
            form = StoredWeightForm(kind: .palettized, bits: bits, grouped: grouped, density: upstreamDensity)
        case "constexpr_sparse_to_dense":
            let values = input("nonzero_data")
            let dense = outputs.first?.elementCount ?? 0
            let density = dense > 0 ? Double(values?.tensor.elementCount ?? dense) / Double(dense) : 1
            let upstream = values?.form ?? .dense(bits: 16)
            form = StoredWeightForm(kind: upstream.kind, bits: upstream.bits, perBlock: upstream.perBlock, grouped: upstream.grouped,
                                    density: min(density, upstreamDensity))
        default:
            form = StoredWeightForm(kind: .linear, bits: read.first?.1.form.bits ?? 8, density: upstreamDensity)
        }
        for (index, output) in outputs.enumerated() {
            // A multi-output op (sparse forms) charges its bytes once, to its first output.
            constants[output.name] = OpGraph.Constant(tensor: output, weightName: name, form: form,
                                                      storedBytes: index == 0 ? storedBytes : 0)
        }
    }

    static func constant(_ tensor: OpGraph.Tensor, name: String, value: CoreML_Specification_MILSpec_Value) -> OpGraph.Constant {
        let bytes = tensor.elementCount.map { ($0 * tensor.elementBits + 7) / 8 } ?? 0
        return OpGraph.Constant(tensor: tensor, weightName: name, form: .dense(bits: tensor.elementBits),
                                storedBytes: bytes, integers: integers(value))
    }

    static func integers(_ value: CoreML_Specification_MILSpec_Value) -> [Int]? {
        guard case .immediateValue(let immediate)? = value.value, case .tensor(let tensor)? = immediate.value else { return nil }
        switch tensor.value {
        case .ints(let ints)?: return ints.values.map(Int.init)
        case .bools(let bools)?: return bools.values.map { $0 ? 1 : 0 }
        default: return nil
        }
    }
}
