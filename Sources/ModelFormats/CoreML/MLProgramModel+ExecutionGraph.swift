import Execution

/// The ML Program's main function lowered onto the executor's graph: inputs as the model
/// description declares them, every op onto its `Operation`, constexpr chains decoded into
/// dense constants, outputs under the description's names.
extension MLProgramModel {
    /// `blob` returns the stored blob behind a weight-file reference, as for `rewrite`.
    public func executionGraph(
        blob: (_ fileName: String, _ offset: UInt64) throws(MLProgramError) -> (MILBlob, UnsafeRawBufferPointer)
    ) throws(ExecutionError) -> ExecutionGraph {
        let functions = specification.mlProgram.functions
        guard let function = functions["main"], let block = function.blockSpecializations[function.opset] else {
            throw .malformedGraph("the ML Program has no 'main' function")
        }
        let description = specification.description_p
        return try withoutActuallyEscaping(blob) { (blob) throws(ExecutionError) -> ExecutionGraph in
            var lowering = MILGraphLowering(blob: blob)
            var inputs: [GraphInput] = []
            for input in function.inputs {
                lowering.declareInput(input.name, type: input.type)
                let feature = description.input.first { $0.name == input.name }
                inputs.append(try Self.graphInput(input, feature: feature))
            }
            for op in block.operations { try lowering.lower(op) }
            let outputs = block.outputs
            guard description.output.isEmpty || description.output.count == outputs.count else {
                throw .malformedGraph("the model describes \(description.output.count) outputs but 'main' returns \(outputs.count)")
            }
            var names: [String] = []
            for (index, value) in outputs.enumerated() {
                guard lowering.produces(value) else { throw .malformedGraph("'main' returns '\(value)', which nothing produces") }
                let name = description.output.isEmpty ? value : description.output[index].name
                if name != value { try lowering.alias(value, as: name) }
                names.append(name)
            }
            return ExecutionGraph(inputs: inputs, outputs: names, constants: lowering.graphConstants, nodes: lowering.nodes)
        }
    }

    /// An input as the description declares it (flexible dimensions nil), else as the function
    /// types it.
    static func graphInput(_ input: CoreML_Specification_MILSpec_NamedValueType,
                           feature: CoreML_Specification_FeatureDescription?) throws(ExecutionError) -> GraphInput {
        switch feature?.type.type {
        case .imageType(let image)?:
            return try imageInput(input.name, image)
        case .multiArrayType(let array)?:
            let elementType: ElementType
            switch array.dataType {
            case .float16, .float32, .double: elementType = .float32
            case .int8, .int32: elementType = .int64
            default: throw .invalidInput(name: input.name, reason: "its array type \(array.dataType) is not one Core ML defines")
            }
            var shape: [Int?] = array.shape.map { Int($0) }
            switch array.shapeFlexibility {
            case .enumeratedShapes(let enumerated)?:
                let shapes = enumerated.shapes.map(\.shape)
                if let first = shapes.first {
                    shape = first.indices.map { axis in shapes.allSatisfy { $0.count == first.count && $0[axis] == first[axis] } ? Int(first[axis]) : nil }
                }
            case .shapeRange(let range)?:
                shape = range.sizeRanges.map { $0.upperBound == Int64($0.lowerBound) ? Int($0.lowerBound) : nil }
            case nil:
                break
            }
            return GraphInput(name: input.name, elementType: elementType, shape: shape)
        case nil:
            guard case .tensorType(let tensor)? = input.type.type else {
                throw .invalidInput(name: input.name, reason: "it is not a tensor")
            }
            let elementType: ElementType
            switch tensor.dataType {
            case .bool: elementType = .bool
            case .float16, .float32, .float64, .bfloat16: elementType = .float32
            default: elementType = .int64
            }
            let shape: [Int?] = tensor.dimensions.map { dimension in
                if case .constant(let constant)? = dimension.dimension { Int(constant.size) } else { nil }
            }
            return GraphInput(name: input.name, elementType: elementType, shape: shape)
        }
    }

    /// coremltools compiles an `ImageType`'s scale and bias into the program (a `mul` and an
    /// `add` after the input), so the tensor the program reads is the pixels themselves.
    private static func imageInput(_ name: String, _ image: CoreML_Specification_ImageFeatureType) throws(ExecutionError) -> GraphInput {
        let order: ImagePreprocessing.ChannelOrder
        switch image.colorSpace {
        case .rgb: order = .rgb
        case .bgr: order = .bgr
        case .grayscale, .grayscaleFloat16: order = .grayscale
        default: throw .invalidInput(name: name, reason: "its image color space \(image.colorSpace) is not one Core ML defines")
        }
        let channels = order == .grayscale ? 1 : 3
        var height: Int? = Int(image.height), width: Int? = Int(image.width)
        switch image.sizeFlexibility {
        case .enumeratedSizes(let sizes)?:
            if Set(sizes.sizes.map(\.height)).count > 1 { height = nil }
            if Set(sizes.sizes.map(\.width)).count > 1 { width = nil }
        case .imageSizeRange(let range)?:
            if range.heightRange.upperBound != Int64(range.heightRange.lowerBound) { height = nil }
            if range.widthRange.upperBound != Int64(range.widthRange.lowerBound) { width = nil }
        case nil:
            break
        }
        return GraphInput(name: name, elementType: .float32, shape: [1, channels, height, width],
                          image: ImagePreprocessing(scale: 1, bias: [Float](repeating: 0, count: channels), channelOrder: order))
    }
}
