import Foundation
import SwiftProtobuf

/// A Core ML model specification (`model.mlmodel`) whose model is an ML Program: its weights,
/// and a rewrite that replaces some of them by constexpr ops and rebuilds the weight file.
///
/// Fields quantd does not model travel through as unknown fields, so a read-modify-write
/// leaves everything but the rewritten weights as it was.
public struct MLProgramModel: Sendable {
    var specification: CoreML_Specification_Model

    /// Nesting deeper than this is refused: real programs nest a handful of levels, and a
    /// hostile file must not exhaust the stack.
    static let messageDepthLimit = 64

    public init(serialized bytes: UnsafeRawBufferPointer) throws(MLProgramError) {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = Self.messageDepthLimit
        do {
            specification = try CoreML_Specification_Model(serializedBytes: Array(bytes), options: options)
        } catch {
            throw .unreadable("\(error)")
        }
        guard case .mlProgram? = specification.type else { throw .notAnMLProgram }
        for (name, function) in specification.mlProgram.functions {
            guard function.blockSpecializations[function.opset] != nil else {
                throw .malformed("function '\(name)' has no block for its opset '\(function.opset)'")
            }
        }
    }

    public var specificationVersion: Int { Int(specification.specificationVersion) }

    /// The oldest opset among the program's functions: what every rewrite must respect.
    public var opset: MILOpset? {
        specification.mlProgram.functions.values.compactMap { MILOpset(name: $0.opset) }.min()
    }

    /// Rewrites every function written for an older opset for `opset` and raises the
    /// specification version to what it needs; never lowers either. The ops carry over as they
    /// are: later opsets keep earlier ops' signatures, except the constexpr ops iOS18 redefined,
    /// which are refused rather than left invalid.
    public mutating func raiseOpset(to opset: MILOpset) throws(MLProgramError) {
        var program = specification.mlProgram
        for name in program.functions.keys.sorted() {
            var function = program.functions[name]!
            guard let current = MILOpset(name: function.opset), current < opset else { continue }
            let block = function.blockSpecializations.removeValue(forKey: function.opset)!
            if opset >= .iOS18 && current < .iOS18 {
                var redefined: String?
                Self.forEachOperation(in: block) { op in
                    if redefined == nil, Self.redefinedInIOS18.contains(op.type) { redefined = op.type }
                }
                if let redefined { throw .redefinedOp(redefined, from: current, to: opset) }
            }
            function.blockSpecializations[opset.name] = block
            function.opset = opset.name
            program.functions[name] = function
        }
        specification.mlProgram = program
        specification.specificationVersion = max(specification.specificationVersion, opset.specificationVersion)
    }

    /// Ops whose iOS16 form (parameters as attributes) the iOS18 opset replaced by another
    /// signature: coremltools cannot load them under CoreML8 either.
    static let redefinedInIOS18: Set<String> = ["constexpr_lut_to_dense", "constexpr_sparse_to_dense"]

    /// Serialized with map entries in key order, so the same model always gives the same bytes.
    public func serialized() throws(MLProgramError) -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        do { return try specification.serializedBytes(options: options) } catch { throw .unreadable("\(error)") }
    }

    /// Every float const of the active blocks whose value lives in a weight file, in program
    /// order (functions by name).
    public var weights: [MLProgramWeight] {
        var found: [MLProgramWeight] = []
        for name in specification.mlProgram.functions.keys.sorted() {
            let function = specification.mlProgram.functions[name]!
            guard let block = function.blockSpecializations[function.opset] else { continue }
            let consumers = MILConsumers(block: block)
            Self.forEachOperation(in: block) { op in
                guard op.type == "const", let value = op.attributes["val"], case .blobFileValue(let file)? = value.value,
                      case .tensorType(let tensor)? = value.type.type,
                      let dataType = MILBlobDataType(tensor.dataType), dataType == .float16 || dataType == .float32,
                      let shape = Self.shape(tensor), let output = op.outputs.first else { return }
                let uses = consumers.uses(of: output.name)
                found.append(MLProgramWeight(
                    name: Self.opName(op) ?? output.name, outputName: output.name, dataType: dataType, shape: shape,
                    fileName: file.fileName, blobOffset: file.offset,
                    consumerTypes: uses.reduce(into: []) { types, use in if !types.contains(use.type) { types.append(use.type) } },
                    outputAxis: consumers.outputAxis(of: output.name, rank: shape.count),
                    convolutionGroups: consumers.convolutionGroups(of: output.name),
                    feedsConstexpr: uses.contains { $0.type.hasPrefix("constexpr_") }))
            }
        }
        return found
    }

    /// Replaces the consts whose output names key `replacements` by those constexpr ops (same
    /// output name and type, so consumers are untouched) and returns the new weight file:
    /// every blob still referenced, in program order, and nothing else.
    ///
    /// `blob` returns the stored blob behind a reference, to copy it across. The new file's
    /// blobs of replaced weights are the constexpr ops' own arrays, not copies.
    public mutating func rewrite(
        replacing replacements: [String: [ConstexprOp]], weightFileName: String,
        blob: (_ fileName: String, _ offset: UInt64) throws(MLProgramError) -> (MILBlob, UnsafeRawBufferPointer)
    ) throws(MLProgramError) -> MILBlobStorageWriter {
        var writer = MILBlobStorageWriter()
        var copied: [String: UInt64] = [:]
        func relocate(_ value: inout CoreML_Specification_MILSpec_Value) throws(MLProgramError) {
            guard case .blobFileValue(var file)? = value.value else { return }
            let key = "\(file.fileName)#\(file.offset)"
            if let offset = copied[key] {
                file.offset = offset
            } else {
                let (stored, bytes) = try blob(file.fileName, file.offset)
                let offset = writer.append(stored.dataType, data: bytes, paddingBits: stored.paddingBits)
                copied[key] = offset
                file.offset = offset
            }
            file.fileName = weightFileName
            value.blobFileValue = file
        }
        var program = specification.mlProgram
        for name in program.functions.keys.sorted() {
            var function = program.functions[name]!
            for key in function.blockSpecializations.keys.sorted() {
                var block = function.blockSpecializations[key]!
                let parametersAreInputs = MILOpset(name: key)?.constexprParametersAreInputs ?? false
                try Self.rewrite(&block) { (op: inout CoreML_Specification_MILSpec_Operation) throws(MLProgramError) in
                    if op.type == "const", let output = op.outputs.first, let chain = replacements[output.name] {
                        return Self.operations(chain, replacing: op, parametersAreInputs: parametersAreInputs,
                                               weightFileName: weightFileName, writer: &writer)
                    }
                    for attribute in op.attributes.keys { try relocate(&op.attributes[attribute]!) }
                    for input in op.inputs.keys {
                        for index in op.inputs[input]!.arguments.indices {
                            guard case .value(var value)? = op.inputs[input]!.arguments[index].binding else { continue }
                            try relocate(&value)
                            op.inputs[input]!.arguments[index].value = value
                        }
                    }
                    return [op]
                }
                function.blockSpecializations[key] = block
            }
            program.functions[name] = function
        }
        specification.mlProgram = program
        return writer
    }

    // MARK: - Traversal

    static func forEachOperation(in block: CoreML_Specification_MILSpec_Block,
                                 _ body: (CoreML_Specification_MILSpec_Operation) -> Void) {
        for op in block.operations {
            body(op)
            for nested in op.blocks { forEachOperation(in: nested, body) }
        }
    }

    /// Replaces each op by what `body` returns for it (usually itself), nested blocks first.
    private static func rewrite(
        _ block: inout CoreML_Specification_MILSpec_Block,
        _ body: (inout CoreML_Specification_MILSpec_Operation) throws(MLProgramError) -> [CoreML_Specification_MILSpec_Operation]
    ) throws(MLProgramError) {
        var operations: [CoreML_Specification_MILSpec_Operation] = []
        operations.reserveCapacity(block.operations.count)
        for var op in block.operations {
            for nested in op.blocks.indices { try rewrite(&op.blocks[nested], body) }
            operations += try body(&op)
        }
        block.operations = operations
    }

    static func opName(_ op: CoreML_Specification_MILSpec_Operation) -> String? {
        guard case .immediateValue(let immediate)? = op.attributes["name"]?.value,
              case .tensor(let tensor)? = immediate.value, case .strings(let strings)? = tensor.value,
              let name = strings.values.first else { return nil }
        return name
    }

    /// nil, as for a flexible shape, when a dimension is not a constant or the tensor could not
    /// exist: its size in bits, at 64 per element, must fit an Int, so that element counts and
    /// byte sizes taken from the shape cannot overflow.
    static func shape(_ tensor: CoreML_Specification_MILSpec_TensorType) -> [Int]? {
        var shape: [Int] = []
        var bits = 64
        for dimension in tensor.dimensions {
            guard case .constant(let constant)? = dimension.dimension, constant.size <= UInt64(Int32.max) else { return nil }
            let (product, overflow) = bits.multipliedReportingOverflow(by: Int(constant.size))
            guard !overflow else { return nil }
            bits = product
            shape.append(Int(constant.size))
        }
        return shape.count == Int(tensor.rank) ? shape : nil
    }

    // MARK: - Building constexpr ops

    /// The chain's ops: intermediate outputs are named after the const's output with the op's
    /// and output's index; the last op takes over the const's output, name and type.
    private static func operations(
        _ chain: [ConstexprOp], replacing const: CoreML_Specification_MILSpec_Operation, parametersAreInputs: Bool,
        weightFileName: String, writer: inout MILBlobStorageWriter
    ) -> [CoreML_Specification_MILSpec_Operation] {
        let base = const.outputs.first?.name ?? "weight"
        func outputName(_ reference: ConstexprOp.Reference) -> String { "\(base)_\(reference.op)_\(reference.output)" }
        return chain.enumerated().map { index, replacement in
            var op = operation(replacement, replacing: const, parametersAreInputs: parametersAreInputs,
                               weightFileName: weightFileName, writer: &writer)
            for (name, reference) in replacement.references.sorted(by: { $0.key < $1.key }) {
                var binding = CoreML_Specification_MILSpec_Argument.Binding()
                binding.name = outputName(reference)
                var argument = CoreML_Specification_MILSpec_Argument()
                argument.arguments = [binding]
                op.inputs[name] = argument
            }
            if index < chain.count - 1 {
                op.outputs = replacement.outputs.enumerated().map { k, output in
                    var named = CoreML_Specification_MILSpec_NamedValueType()
                    named.name = outputName(.init(op: index, output: k))
                    named.type.tensorType = tensorType(output.dataType, shape: output.shape)
                    return named
                }
                op.attributes["name"] = stringValue("\(base)_\(index)")
            }
            return op
        }
    }

    private static func stringValue(_ string: String) -> CoreML_Specification_MILSpec_Value {
        var strings = CoreML_Specification_MILSpec_TensorValue.RepeatedStrings()
        strings.values = [string]
        var tensor = CoreML_Specification_MILSpec_TensorValue()
        tensor.strings = strings
        var value = CoreML_Specification_MILSpec_Value()
        value.type.tensorType = tensorType(.string, shape: [])
        value.immediateValue.tensor = tensor
        return value
    }

    private static func tensorType(_ dataType: CoreML_Specification_MILSpec_DataType, shape: [Int]) -> CoreML_Specification_MILSpec_TensorType {
        var type = CoreML_Specification_MILSpec_TensorType()
        type.dataType = dataType
        type.rank = Int64(shape.count)
        type.dimensions = shape.map { size in
            var dimension = CoreML_Specification_MILSpec_Dimension()
            var constant = CoreML_Specification_MILSpec_Dimension.ConstantDimension()
            constant.size = UInt64(size)
            dimension.constant = constant
            return dimension
        }
        return type
    }

    private static func tensorType(_ dataType: MILBlobDataType, shape: [Int]) -> CoreML_Specification_MILSpec_TensorType {
        tensorType(dataType.milDataType, shape: shape)
    }

    private static func operation(
        _ replacement: ConstexprOp, replacing const: CoreML_Specification_MILSpec_Operation, parametersAreInputs: Bool,
        weightFileName: String, writer: inout MILBlobStorageWriter
    ) -> CoreML_Specification_MILSpec_Operation {
        var op = CoreML_Specification_MILSpec_Operation()
        op.type = replacement.type
        op.outputs = const.outputs
        if let name = const.attributes["name"] { op.attributes["name"] = name }
        // Parameters in name order: the weight file's blob order then never depends on hashing.
        for (name, tensor) in replacement.parameters.sorted(by: { $0.key < $1.key }) {
            let value = Self.value(tensor, weightFileName: weightFileName, writer: &writer)
            if parametersAreInputs {
                var binding = CoreML_Specification_MILSpec_Argument.Binding()
                binding.value = value
                var argument = CoreML_Specification_MILSpec_Argument()
                argument.arguments = [binding]
                op.inputs[name] = argument
            } else {
                op.attributes[name] = value
            }
        }
        return op
    }

    private static func value(_ tensor: MILTensor, weightFileName: String,
                              writer: inout MILBlobStorageWriter) -> CoreML_Specification_MILSpec_Value {
        var value = CoreML_Specification_MILSpec_Value()
        value.type.tensorType = tensorType(tensor.dataType, shape: tensor.shape)
        switch tensor.storage {
        case .blob(let bytes):
            let bits = tensor.shape.reduce(1, *) * tensor.dataType.bitWidth
            let offset = writer.append(tensor.dataType, blob: bytes, paddingBits: tensor.dataType.isSubByte ? UInt64(bytes.count * 8 - bits) : 0)
            var file = CoreML_Specification_MILSpec_Value.BlobFileValue()
            file.fileName = weightFileName
            file.offset = offset
            value.blobFileValue = file
        case .int32(let values):
            var ints = CoreML_Specification_MILSpec_TensorValue.RepeatedInts()
            ints.values = values
            var immediate = CoreML_Specification_MILSpec_TensorValue()
            immediate.ints = ints
            value.immediateValue.tensor = immediate
        case .uint32(let values):
            // coremltools writes uint32 tensors as their little-endian bytes.
            var bytes = CoreML_Specification_MILSpec_TensorValue.RepeatedBytes()
            bytes.values = Data(values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } })
            var immediate = CoreML_Specification_MILSpec_TensorValue()
            immediate.bytes = bytes
            value.immediateValue.tensor = immediate
        }
        return value
    }
}

/// What can be wrong with a model specification, for the user.
public enum MLProgramError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(String)
    case notAnMLProgram
    case malformed(String)
    case missingBlob(fileName: String, offset: UInt64)
    case redefinedOp(String, from: MILOpset, to: MILOpset)
    case activationQuantizationNeedsIOS17(MILOpset?)

    public var description: String {
        switch self {
        case .unreadable(let detail): "the model specification (model.mlmodel) is not a valid Core ML protobuf: \(detail)"
        case .notAnMLProgram: "the model is not an ML Program (a neural network or pipeline model); convert it with convert_to=\"mlprogram\""
        case .malformed(let detail): "the ML Program is malformed: \(detail)"
        case .missingBlob(let fileName, let offset): "the model refers to a blob at offset \(offset) of '\(fileName)' that the weight file does not hold"
        case .redefinedOp(let type, let from, let to):
            "the model holds \(type) ops in their \(from.target) form, which the \(to.target) opset (\(to.name)) defines differently; re-convert it with coremltools' minimum_deployment_target=ct.target.\(to.target) instead"
        case .activationQuantizationNeedsIOS17(let opset):
            "activation quantize/dequantize ops exist from iOS17 (CoreML7) on; the program targets \(opset?.target ?? "an unknown opset")"
        }
    }
}

extension MILBlobDataType {
    init?(_ type: CoreML_Specification_MILSpec_DataType) {
        switch type {
        case .float16: self = .float16
        case .float32: self = .float32
        case .bfloat16: self = .bfloat16
        case .uint8: self = .uint8
        case .int8: self = .int8
        case .int16: self = .int16
        case .uint16: self = .uint16
        case .int32: self = .int32
        case .uint32: self = .uint32
        case .int4: self = .int4
        case .uint1: self = .uint1
        case .uint2: self = .uint2
        case .uint3: self = .uint3
        case .uint4: self = .uint4
        case .uint6: self = .uint6
        case .float8E4M3Fn: self = .float8E4M3FN
        case .float8E5M2: self = .float8E5M2
        default: return nil
        }
    }

    var milDataType: CoreML_Specification_MILSpec_DataType {
        switch self {
        case .float16: .float16
        case .float32: .float32
        case .bfloat16: .bfloat16
        case .uint8: .uint8
        case .int8: .int8
        case .int16: .int16
        case .uint16: .uint16
        case .int32: .int32
        case .uint32: .uint32
        case .int4: .int4
        case .uint1: .uint1
        case .uint2: .uint2
        case .uint3: .uint3
        case .uint4: .uint4
        case .uint6: .uint6
        case .float8E4M3FN: .float8E4M3Fn
        case .float8E5M2: .float8E5M2
        }
    }
}
