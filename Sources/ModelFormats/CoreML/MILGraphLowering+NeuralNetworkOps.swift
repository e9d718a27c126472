import Execution

/// Convolutions, linear layers, normalizations, pooling and attention, with MIL's defaults
/// (coremltools `ops/defs/iOS15/conv.py`, `linear.py`, `normalization.py`, `pool.py`,
/// `activation.py`, `iOS18/transformers.py`).
extension MILGraphLowering {
    mutating func lowerNeuralNetworkOp(_ op: Op) throws(ExecutionError) -> Bool {
        switch op.type {
        case "conv":
            let spatial = try rank(op, "weight") - 2
            let geometry = try convolutionGeometry(op, spatial: spatial)
            emit(op, .convolution(Convolution(strides: geometry.strides, dilations: geometry.dilations,
                                              padding: geometry.padding, groups: geometry.groups)),
                 [try required(op, "x"), try required(op, "weight"), try input(op, "bias")])
        case "conv_transpose":
            let spatial = try rank(op, "weight") - 2
            let geometry = try convolutionGeometry(op, spatial: spatial)
            // MIL's output_shape is the whole shape, [N, Cout, spatial…].
            let outputShape = try ints(op, "output_shape").map { Array($0.suffix(spatial)) }
            emit(op, .convolutionTranspose(ConvolutionTranspose(
                strides: geometry.strides, dilations: geometry.dilations, padding: geometry.padding, groups: geometry.groups,
                outputPadding: [Int](repeating: 0, count: spatial), outputShape: outputShape)),
                 [try required(op, "x"), try required(op, "weight"), try input(op, "bias")])
        case "linear":
            emit(op, .linear, [try required(op, "x"), try required(op, "weight"), try input(op, "bias")])
        case "matmul":
            emit(op, .matMul(transposeA: try bool(op, "transpose_x") ?? false, transposeB: try bool(op, "transpose_y") ?? false),
                 [try required(op, "x"), try required(op, "y")])
        case "batch_norm":
            let mean = try required(op, "mean")
            let channels = try constant(op, "mean")?.elementCount
            func parameter(_ key: String, default fill: Float) throws(ExecutionError) -> String {
                if let name = try input(op, key) { return name }
                guard let channels else {
                    throw .unsupportedUse(name: op.name, type: op.type, reason: "'\(key)' is absent and 'mean' is not constant")
                }
                return addConstant("\(op.name)/\(key)", ConstantTensor(shape: [channels], elements: .float32(.init(repeating: fill, count: channels))))
            }
            emit(op, .batchNormalization(epsilon: try float(op, "epsilon") ?? 1e-5),
                 [try required(op, "x"), try parameter("gamma", default: 1), try parameter("beta", default: 0), mean,
                  try required(op, "variance")])
        case "instance_norm":
            emit(op, .instanceNormalization(epsilon: try float(op, "epsilon") ?? 1e-5),
                 [try required(op, "x"), try input(op, "gamma"), try input(op, "beta")])
        case "layer_norm":
            // No axes normalizes over every axis.
            let axes: [Int]
            if let given = try ints(op, "axes") { axes = given } else { axes = Array(0..<(try rank(op, "x"))) }
            emit(op, .layerNormalization(axes: axes, epsilon: try float(op, "epsilon") ?? 1e-5),
                 [try required(op, "x"), try input(op, "gamma"), try input(op, "beta")])
        case "avg_pool", "max_pool":
            guard let kernel = try ints(op, "kernel_sizes") else {
                throw .malformedGraph("op '\(op.name)' of type '\(op.type)' has no 'kernel_sizes'")
            }
            let ones = [Int](repeating: 1, count: kernel.count)
            let padding = try padding(op, spatial: kernel.count)
            let average = op.type == "avg_pool"
            let excludesPadding = try bool(op, "exclude_padding_from_average") ?? false
            emit(op, .pool(Pooling(
                kind: average ? .average : .max, kernel: kernel, strides: try ints(op, "strides") ?? ones, dilations: ones,
                padding: padding, ceilMode: try bool(op, "ceil_mode") ?? false,
                countIncludesPadding: average && !excludesPadding)),
                 [try required(op, "x")])
        case "softmax":
            emit(op, .softmax(axis: try int(op, "axis") ?? -1), [try required(op, "x")])
        case "scaled_dot_product_attention":
            emit(op, .scaledDotProductAttention(scale: nil, causal: false),
                 [try required(op, "query"), try required(op, "key"), try required(op, "value"), try input(op, "attn_mask")])
        default:
            return false
        }
        return true
    }

    private func convolutionGeometry(_ op: Op, spatial: Int) throws(ExecutionError)
        -> (strides: [Int], dilations: [Int], padding: Padding, groups: Int)
    {
        guard spatial >= 1 else { throw .unsupportedUse(name: op.name, type: op.type, reason: "the weight has no spatial axes") }
        let ones = [Int](repeating: 1, count: spatial)
        return (try ints(op, "strides") ?? ones, try ints(op, "dilations") ?? ones, try padding(op, spatial: spatial),
                try int(op, "groups") ?? 1)
    }

    /// MIL's `pad_type` and, for `custom`, `pad` (begin and end interleaved per spatial axis)
    /// as the executor's padding (all begins, then all ends).
    func padding(_ op: Op, spatial: Int) throws(ExecutionError) -> Padding {
        switch try string(op, "pad_type") ?? "valid" {
        case "valid": return .valid
        case "same": return .sameUpper
        case "same_lower": return .sameLower
        case "custom":
            let pad = try ints(op, "pad") ?? [Int](repeating: 0, count: 2 * spatial)
            guard pad.count == 2 * spatial else {
                throw .malformedGraph("op '\(op.name)' of type '\(op.type)': 'pad' has \(pad.count) values for \(spatial) spatial axes")
            }
            return .explicit(stride(from: 0, to: pad.count, by: 2).map { pad[$0] } + stride(from: 1, to: pad.count, by: 2).map { pad[$0] })
        case let other:
            throw .unsupportedUse(name: op.name, type: op.type, reason: "pad_type '\(other)'")
        }
    }
}
