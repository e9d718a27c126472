import Execution
import Foundation
import QuantCore

/// coremltools' activation quantization of one MIL block, given every activation's range: the
/// three graph passes `linear_quantize_activations` runs, in its order.
///
/// 1. Prefix (`insert_prefix_quantize_dequantize_pair`): a `quantize`→`dequantize` pair before
///    the `x` of conv, linear, avg_pool and max_pool, and before both inputs of add, unless an
///    input is a const (or the op's config is null). Each reader gets its own pair.
/// 2. Suffix (`insert_suffix_quantize_dequantize_pair`): after a pattern read through a
///    dequantize — conv, linear, pool, or add with both inputs dequantized, optionally followed
///    by one of the activations coremltools fuses — a pair on the pattern's output, unless its
///    only reader is already a quantize or it feeds nothing but the model's outputs.
/// 3. `dequantize_quantize_pair_elimination`: a dequantize followed by a quantize with the same
///    scale, zero point and axis collapses.
///
/// Scales follow `ActivationQuantizationParameters.coreML`. Their type is the tensor's own
/// float type: coremltools writes float16 suffix scales even in a float32 program, which its own
/// type check then refuses; quantd writes float32 there. The prefix pair of int8 symmetric
/// quantization has no zero point and the suffix pair a zero point of 0, as in coremltools, so
/// the two never cancel in that mode (they do in the others).
struct MILActivationQuantizer {
    typealias Operation = CoreML_Specification_MILSpec_Operation

    private(set) var operations: [Operation]
    let blockOutputs: Set<String>
    let config: ActivationQuantizationConfig
    /// Ranges after concat sharing.
    let ranges: [String: TensorRange]
    /// Declared types of the block's inputs and of every op output.
    private var types: [String: CoreML_Specification_MILSpec_ValueType] = [:]
    private var names: Set<String> = []
    private(set) var summary = ActivationQuantizationSummary()

    static let fusedActivations: Set = ["relu", "relu6", "leaky_relu", "sigmoid", "hard_sigmoid", "tanh", "scaled_tanh"]

    init(block: CoreML_Specification_MILSpec_Block, inputs: [CoreML_Specification_MILSpec_NamedValueType],
         config: ActivationQuantizationConfig, ranges: [String: TensorRange]) {
        operations = block.operations
        blockOutputs = Set(block.outputs)
        self.config = config
        for input in inputs { types[input.name] = input.type }
        for op in block.operations {
            for output in op.outputs { types[output.name] = output.type }
            if let name = MLProgramModel.opName(op) { names.insert(name) }
            names.formUnion(op.outputs.map(\.name))
        }
        self.ranges = Self.sharingConcatRanges(ranges, operations: block.operations, outputs: Set(block.outputs))
    }

    /// coremltools' calibration gives a concat's inputs and output one range (the union of
    /// theirs), so the concat runs on codes that need no rescaling. Groups that share a tensor
    /// merge transitively here; model outputs, which coremltools keeps no range for, do not
    /// widen a group.
    static func sharingConcatRanges(_ ranges: [String: TensorRange], operations: [Operation], outputs: Set<String>) -> [String: TensorRange] {
        var parent: [String: String] = [:]
        func root(_ name: String) -> String {
            var current = name
            while let next = parent[current], next != current { current = next }
            return current
        }
        for op in operations where op.type == "concat" {
            let members = (op.inputs["values"]?.arguments ?? []).compactMap { argument -> String? in
                if case .name(let name)? = argument.binding { return name }
                return nil
            } + op.outputs.map(\.name)
            for member in members where parent[member] == nil { parent[member] = member }
            for member in members.dropFirst() { parent[root(member)] = root(members[0]) }
        }
        var union: [String: TensorRange] = [:]
        for member in parent.keys where !outputs.contains(member) {
            guard let range = ranges[member] else { continue }
            union[root(member)] = union[root(member)].map { $0.union(range) } ?? range
        }
        var shared = ranges
        for member in parent.keys where ranges[member] != nil && !outputs.contains(member) {
            if let range = union[root(member)] { shared[member] = range }
        }
        return shared
    }

    mutating func run() {
        func pairOps() -> Int { operations.count(where: { $0.type == "quantize" || $0.type == "dequantize" }) }
        let before = pairOps()
        insertPrefixPairs()
        insertSuffixPairs()
        eliminateDequantizeQuantizePairs()
        summary.insertedOps = max(0, pairOps() - before)
    }

    // MARK: - Pass 1: before the inputs

    private mutating func insertPrefixPairs() {
        let producers = producerTypes()
        var result: [Operation] = []
        result.reserveCapacity(operations.count)
        for var op in operations {
            defer { result.append(op) }
            guard MLProgramModel.activationQuantizedOpTypes.contains(op.type), let opConfig = opConfig(op) else { continue }
            let parameters = op.type == "add" ? ["x", "y"] : ["x"]
            let inputs = parameters.map { variable(op, $0) }
            // Every live input must be a computed value (not a const) with a range.
            guard inputs.allSatisfy({ name in name.map { producers[$0] != "const" && ranges[$0] != nil && floatType($0) != nil } ?? false }) else { continue }
            for (parameter, input) in zip(parameters, inputs) {
                let (quantize, dequantize) = pair(on: input!, opConfig, zeroPointAlways: false, label: "\(outputName(op))_\(parameter)")
                result += [quantize, dequantize]
                op.inputs[parameter] = Self.reference(dequantize.outputs[0].name)
            }
            summary.quantizedOps.append(MLProgramModel.opName(op) ?? outputName(op))
        }
        operations = result
    }

    // MARK: - Pass 2: after the patterns

    private mutating func insertSuffixPairs() {
        let dequantizes = operations.filter { $0.type == "dequantize" }.map(outputName)
        for dequantize in dequantizes { insertSuffixPair(after: dequantize) }
    }

    private mutating func insertSuffixPair(after dequantize: String) {
        let dequantizeReaders = readers(of: dequantize)
        guard dequantizeReaders.count == 1, MLProgramModel.activationQuantizedOpTypes.contains(operations[dequantizeReaders[0]].type) else { return }
        let core = operations[dequantizeReaders[0]]
        let producers = producerTypes()
        if core.type == "add" {
            guard ["x", "y"].allSatisfy({ variable(core, $0).flatMap { producers[$0] } == "dequantize" }) else { return }
        }
        guard let opConfig = opConfig(core) else { return }
        let coreReaders = readers(of: outputName(core))
        if coreReaders.count == 1 && operations[coreReaders[0]].type == "quantize" { return }
        var last = core
        var next = coreReaders.first.map { operations[$0] }
        if let activation = next, Self.fusedActivations.contains(activation.type) {
            let activationReaders = readers(of: outputName(activation))
            if !activationReaders.isEmpty {
                if activationReaders.count == 1 && operations[activationReaders[0]].type == "quantize" { return }
                last = activation
                next = operations[activationReaders[0]]
            }
        }
        let output = outputName(last)
        // coremltools keeps no range for a model output (and fails on one); quantd leaves it float.
        guard next != nil, !blockOutputs.contains(output), ranges[output] != nil, floatType(output) != nil,
              let lastIndex = operations.firstIndex(where: { outputName($0) == output }) else { return }
        let (quantize, dequantize) = pair(on: output, opConfig, zeroPointAlways: true, label: "\(output)_post")
        let replacement = dequantize.outputs[0].name
        for index in operations.indices where index > lastIndex {
            replaceUses(of: output, with: replacement, in: &operations[index])
        }
        operations.insert(contentsOf: [quantize, dequantize], at: lastIndex + 1)
    }

    // MARK: - Pass 3: dequantize → quantize

    private mutating func eliminateDequantizeQuantizePairs() {
        var changed = true
        while changed {
            changed = false
            for dequantize in operations.filter({ $0.type == "dequantize" }).map(outputName) {
                if eliminateQuantizes(after: dequantize) { changed = true }
            }
        }
    }

    private mutating func eliminateQuantizes(after dequantize: String) -> Bool {
        guard !blockOutputs.contains(dequantize), let index = operations.firstIndex(where: { outputName($0) == dequantize }),
              let source = variable(operations[index], "input") else { return false }
        let parameters = quantizationParameters(operations[index])
        var removed = false
        for reader in readers(of: dequantize).reversed() {
            let quantize = operations[reader]
            guard quantize.type == "quantize", parameters != nil, quantizationParameters(quantize) == parameters else { continue }
            let output = outputName(quantize)
            for i in operations.indices { replaceUses(of: output, with: source, in: &operations[i]) }
            operations.remove(at: reader)
            removed = true
        }
        if removed, readers(of: dequantize).isEmpty, let index = operations.firstIndex(where: { outputName($0) == dequantize }) {
            operations.remove(at: index)
        }
        return removed
    }

    /// Scale, zero point (nil when absent) and axis (nil when absent) as their values, for
    /// comparing two ops; nil when a parameter is not a constant this block holds.
    private func quantizationParameters(_ op: Operation) -> [[Double]?]? {
        func values(_ parameter: String) -> [Double]?? {
            guard let argument = op.inputs[parameter]?.arguments.first else { return .some(nil) }
            let value: CoreML_Specification_MILSpec_Value?
            switch argument.binding {
            case .value(let v)?: value = v
            case .name(let name)?:
                value = operations.first(where: { $0.type == "const" && outputName($0) == name })?.attributes["val"]
            case nil: value = nil
            }
            guard let value, let constant = try? MILConstant(value, blob: { _, _ throws(MLProgramError) in throw .malformed("no blob") }),
                  let floats = constant.floats else { return nil }
            return .some(floats.map(Double.init))
        }
        guard let scale = values("scale"), let zeroPoint = values("zero_point"), let axis = values("axis") else { return nil }
        return [scale, zeroPoint, axis]
    }

    // MARK: - Building pairs

    private mutating func pair(on input: String, _ opConfig: ActivationQuantizationConfig.OpConfig, zeroPointAlways: Bool,
                               label: String) -> (Operation, Operation) {
        let range = ranges[input]!
        let floatType = floatType(input)!
        let parameters = ActivationQuantizationParameters.coreML(min: range.min, max: range.max, opConfig)
        if !summary.tensors.contains(where: { $0.name == input }) {
            summary.tensors.append(.init(name: input, range: range, parameters: parameters))
        }
        let writesZeroPoint = zeroPointAlways || !(opConfig.dtype.isSigned && opConfig.mode == .linearSymmetric)
        let codeType: CoreML_Specification_MILSpec_DataType = opConfig.dtype == .int8 ? .int8 : .uint8
        let quantizeName = unique("\(label)_quantize")
        let dequantizeName = unique("\(label)_dequantize")

        var quantize = Operation()
        quantize.type = "quantize"
        quantize.attributes["name"] = Self.stringValue(quantizeName)
        quantize.inputs["input"] = Self.reference(input)
        quantize.inputs["scale"] = Self.immediate(Self.scalar(parameters.scale, type: floatType))
        quantize.inputs["output_dtype"] = Self.immediate(Self.stringValue(opConfig.dtype.rawValue))
        var dequantize = Operation()
        dequantize.type = "dequantize"
        dequantize.attributes["name"] = Self.stringValue(dequantizeName)
        dequantize.inputs["input"] = Self.reference(quantizeName)
        dequantize.inputs["scale"] = quantize.inputs["scale"]
        if writesZeroPoint {
            let zeroPoint = Self.immediate(Self.code(parameters.zeroPoint, type: codeType))
            quantize.inputs["zero_point"] = zeroPoint
            dequantize.inputs["zero_point"] = zeroPoint
        }
        var quantized = types[input]!
        quantized.tensorType.dataType = codeType
        quantize.outputs = [Self.named(quantizeName, quantized)]
        dequantize.outputs = [Self.named(dequantizeName, types[input]!)]
        types[quantizeName] = quantized
        types[dequantizeName] = types[input]!
        return (quantize, dequantize)
    }

    private mutating func unique(_ base: String) -> String {
        var name = base
        var suffix = 1
        while names.contains(name) {
            name = "\(base)_\(suffix)"
            suffix += 1
        }
        names.insert(name)
        return name
    }

    // MARK: - Graph queries

    private func opConfig(_ op: Operation) -> ActivationQuantizationConfig.OpConfig? {
        config.config(opName: MLProgramModel.opName(op) ?? outputName(op), opType: op.type)
    }

    private func outputName(_ op: Operation) -> String { op.outputs.first?.name ?? "" }

    /// The value a single-argument parameter reads, when it reads one by name.
    private func variable(_ op: Operation, _ parameter: String) -> String? {
        guard let arguments = op.inputs[parameter]?.arguments, arguments.count == 1,
              case .name(let name)? = arguments[0].binding else { return nil }
        return name
    }

    /// float16 or float32, for a value declared as a tensor of either.
    private func floatType(_ name: String) -> CoreML_Specification_MILSpec_DataType? {
        guard case .tensorType(let tensor)? = types[name]?.type, tensor.dataType == .float16 || tensor.dataType == .float32 else { return nil }
        return tensor.dataType
    }

    /// The type of the op producing each value (block inputs have none).
    private func producerTypes() -> [String: String] {
        var producers: [String: String] = [:]
        for op in operations { for output in op.outputs { producers[output.name] = op.type } }
        return producers
    }

    /// Indices of the ops reading `name`, in program order, each once.
    private func readers(of name: String) -> [Int] {
        operations.indices.filter { index in
            operations[index].inputs.values.contains { $0.arguments.contains { argument in
                if case .name(name)? = argument.binding { true } else { false }
            } }
        }
    }

    private func replaceUses(of name: String, with replacement: String, in op: inout Operation) {
        for key in op.inputs.keys {
            for index in op.inputs[key]!.arguments.indices {
                if case .name(name)? = op.inputs[key]!.arguments[index].binding {
                    op.inputs[key]!.arguments[index].binding = .name(replacement)
                }
            }
        }
    }

    // MARK: - Proto values

    static func reference(_ name: String) -> CoreML_Specification_MILSpec_Argument {
        var binding = CoreML_Specification_MILSpec_Argument.Binding()
        binding.name = name
        var argument = CoreML_Specification_MILSpec_Argument()
        argument.arguments = [binding]
        return argument
    }

    static func immediate(_ value: CoreML_Specification_MILSpec_Value) -> CoreML_Specification_MILSpec_Argument {
        var binding = CoreML_Specification_MILSpec_Argument.Binding()
        binding.value = value
        var argument = CoreML_Specification_MILSpec_Argument()
        argument.arguments = [binding]
        return argument
    }

    static func named(_ name: String, _ type: CoreML_Specification_MILSpec_ValueType) -> CoreML_Specification_MILSpec_NamedValueType {
        var named = CoreML_Specification_MILSpec_NamedValueType()
        named.name = name
        named.type = type
        return named
    }

    private static func scalarValue(_ dataType: CoreML_Specification_MILSpec_DataType,
                                    _ fill: (inout CoreML_Specification_MILSpec_TensorValue) -> Void) -> CoreML_Specification_MILSpec_Value {
        var value = CoreML_Specification_MILSpec_Value()
        var type = CoreML_Specification_MILSpec_TensorType()
        type.dataType = dataType
        type.rank = 0
        value.type.tensorType = type
        var tensor = CoreML_Specification_MILSpec_TensorValue()
        fill(&tensor)
        value.immediateValue.tensor = tensor
        return value
    }

    static func stringValue(_ string: String) -> CoreML_Specification_MILSpec_Value {
        scalarValue(.string) { tensor in
            var strings = CoreML_Specification_MILSpec_TensorValue.RepeatedStrings()
            strings.values = [string]
            tensor.strings = strings
        }
    }

    /// A float16 scalar is written as its two little-endian bytes, as coremltools does.
    static func scalar(_ scale: Float, type: CoreML_Specification_MILSpec_DataType) -> CoreML_Specification_MILSpec_Value {
        scalarValue(type) { tensor in
            if type == .float16 {
                var bytes = CoreML_Specification_MILSpec_TensorValue.RepeatedBytes()
                bytes.values = withUnsafeBytes(of: FloatConversion.float16Bits(scale).littleEndian) { Data($0) }
                tensor.bytes = bytes
            } else {
                var floats = CoreML_Specification_MILSpec_TensorValue.RepeatedFloats()
                floats.values = [scale]
                tensor.floats = floats
            }
        }
    }

    static func code(_ value: Int32, type: CoreML_Specification_MILSpec_DataType) -> CoreML_Specification_MILSpec_Value {
        scalarValue(type) { tensor in
            var bytes = CoreML_Specification_MILSpec_TensorValue.RepeatedBytes()
            bytes.values = Data([type == .int8 ? UInt8(bitPattern: Int8(value)) : UInt8(value)])
            tensor.bytes = bytes
        }
    }
}
