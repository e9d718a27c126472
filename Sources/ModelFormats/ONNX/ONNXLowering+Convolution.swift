import Execution

extension ONNXLowering {
    /// Conv, ConvTranspose, pooling, Gemm and MatMul.
    mutating func lowerConvolution(_ node: ONNXSourceNode) throws(ExecutionError) -> Bool {
        switch node.proto.opType {
        case "Conv":
            let spatial = try spatialRank(node)
            try requireFloatWeight(node)
            emit(node, .convolution(Convolution(
                strides: node.ints("strides") ?? ones(spatial), dilations: node.ints("dilations") ?? ones(spatial),
                padding: try padding(node, spatial: spatial), groups: node.int("group", default: 1))))
        case "ConvTranspose":
            let spatial = try spatialRank(node)
            try requireFloatWeight(node)
            emit(node, .convolutionTranspose(ConvolutionTranspose(
                strides: node.ints("strides") ?? ones(spatial), dilations: node.ints("dilations") ?? ones(spatial),
                padding: try padding(node, spatial: spatial), groups: node.int("group", default: 1),
                outputPadding: node.ints("output_padding") ?? [Int](repeating: 0, count: spatial),
                outputShape: node.ints("output_shape"))))
        case "MaxPool", "AveragePool":
            guard let kernel = node.ints("kernel_shape") else { throw node.unsupported("it has no kernel_shape") }
            let isMax = node.proto.opType == "MaxPool"
            if isMax {
                guard !node.readsOutput(1) else { throw node.unsupported("its Indices output is not implemented") }
                guard node.int("storage_order", default: 0) == 0 else { throw node.unsupported("storage_order 1 is not implemented") }
            }
            emit(node, .pool(Pooling(
                kind: isMax ? .max : .average, kernel: kernel, strides: node.ints("strides") ?? ones(kernel.count),
                dilations: node.ints("dilations") ?? ones(kernel.count), padding: try padding(node, spatial: kernel.count),
                ceilMode: node.bool("ceil_mode", default: false),
                countIncludesPadding: !isMax && node.bool("count_include_pad", default: false))),
                 inputs: [node.input(0)], outputs: [node.outputs[0]])
        case "GlobalAveragePool": emit(node, .globalPool(.average))
        case "GlobalMaxPool": emit(node, .globalPool(.max))
        case "Gemm":
            emit(node, .gemm(transposeA: node.bool("transA", default: false), transposeB: node.bool("transB", default: false),
                             alpha: node.float("alpha", default: 1), beta: node.float("beta", default: 1)))
        case "MatMul": emit(node, .matMul(transposeA: false, transposeB: false))
        default:
            return false
        }
        return true
    }

    private func ones(_ count: Int) -> [Int] { [Int](repeating: 1, count: count) }

    /// Spatial axes of a convolution: kernel_shape's length, else the weight's rank less 2, else
    /// the length of an attribute that lists one value per spatial axis.
    private func spatialRank(_ node: ONNXSourceNode) throws(ExecutionError) -> Int {
        if let kernel = node.ints("kernel_shape") { return kernel.count }
        if let weight = rank(of: node.input(1)), weight >= 3 { return weight - 2 }
        if let listed = node.ints("strides") ?? node.ints("dilations") { return listed.count }
        if let pads = node.ints("pads") { return pads.count / 2 }
        throw node.unsupported("its spatial rank is unknown before running (no kernel_shape, and the weight's rank is not known)")
    }

    /// The executor's convolutions compute in float32; an integer weight would need the
    /// ConvInteger family's arithmetic.
    private func requireFloatWeight(_ node: ONNXSourceNode) throws(ExecutionError) {
        if let weight = node.input(1), let type = type(of: weight), type.executionElementType != .float32 {
            throw node.unsupported("its weight '\(weight)' is not a float tensor")
        }
    }

    private func padding(_ node: ONNXSourceNode, spatial: Int) throws(ExecutionError) -> Padding {
        switch node.string("auto_pad", default: "NOTSET") {
        case "NOTSET", "": return .explicit(node.ints("pads") ?? [Int](repeating: 0, count: 2 * spatial))
        case "SAME_UPPER": return .sameUpper
        case "SAME_LOWER": return .sameLower
        case "VALID": return .valid
        case let other: throw node.unsupported("auto_pad '\(other)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
    }
}
