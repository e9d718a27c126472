import ModelFormats

/// Small op graphs built by hand, with shapes whose costs are easy to work out on paper.
enum GraphFixtures {
    static func tensor(_ name: String, _ shape: [Int], bits: Int = 16) -> OpGraph.Tensor {
        OpGraph.Tensor(name: name, shape: shape, elementBits: bits, isFloat: true)
    }

    static func weight(_ name: String, _ shape: [Int], form: StoredWeightForm = .dense(bits: 16), storedBytes: Int? = nil) -> OpGraph.Value {
        let count = shape.reduce(1, *)
        return .constant(OpGraph.Constant(tensor: tensor(name, shape), weightName: name, form: form, storedBytes: storedBytes ?? count * 2))
    }

    static func flag(_ name: String, _ on: Bool) -> OpGraph.Value {
        .constant(OpGraph.Constant(tensor: OpGraph.Tensor(name: name, shape: [], elementBits: 8, isFloat: false),
                                   weightName: name, form: .dense(bits: 8), storedBytes: 1, integers: [on ? 1 : 0]))
    }

    static func op(_ type: String, _ name: String, _ inputs: [(String, OpGraph.Value)], output: [Int]) -> OpGraph.Operation {
        OpGraph.Operation(type: type, name: name, inputs: inputs.map { (parameter: $0.0, values: [$0.1]) }, outputs: [tensor(name, output)])
    }

    /// ResNet50's stem conv (7×7, 3 → 64, stride 2 at 224×224), its batch norm, a depthwise 3×3
    /// and a 2048 → 1000 classifier.
    static func smallNetwork(convForm: StoredWeightForm = .dense(bits: 16), convBytes: Int? = nil) -> OpGraph {
        let image = tensor("image", [1, 3, 224, 224])
        let conv = op("conv", "conv1", [("x", .activation(image)), ("weight", weight("conv1_w", [64, 3, 7, 7], form: convForm, storedBytes: convBytes))],
                      output: [1, 64, 112, 112])
        let bn = op("batch_norm", "bn1", [("x", .activation(conv.outputs[0])), ("mean", weight("m", [64])), ("variance", weight("v", [64])),
                                          ("gamma", weight("g", [64])), ("beta", weight("b", [64]))], output: [1, 64, 112, 112])
        let depthwise = op("conv", "dw", [("x", .activation(bn.outputs[0])), ("weight", weight("dw_w", [64, 1, 3, 3]))], output: [1, 64, 112, 112])
        let pooled = op("reduce_mean", "pool", [("x", .activation(depthwise.outputs[0]))], output: [1, 64])
        let fc = op("linear", "fc", [("x", .activation(tensor("features", [1, 2048]))), ("weight", weight("fc_w", [1000, 2048])),
                                     ("bias", weight("fc_b", [1000]))], output: [1, 1000])
        return OpGraph(operations: [conv, bn, depthwise, pooled, fc], inputs: [image])
    }

    /// A W8A8 pattern as coremltools writes it: image → quantize → dequantize → five conv → relu
    /// blocks, each reading the last through a pair → softmax (float). The last conv's output
    /// goes to the float softmax through a transition pair.
    static func quantizedNetwork(quantized: Bool = true) -> OpGraph {
        let image = tensor("image", [1, 64, 56, 56])
        var ops: [OpGraph.Operation] = []
        func pair(_ input: OpGraph.Tensor, _ name: String) -> OpGraph.Tensor {
            guard quantized else { return input }
            let q = OpGraph.Operation(type: "quantize", name: "\(name)_q", inputs: [(parameter: "input", values: [.activation(input)])],
                                      outputs: [tensor("\(name)_q", input.shape!, bits: 8)])
            let dq = op("dequantize", "\(name)_dq", [("input", .activation(q.outputs[0]))], output: input.shape!)
            ops += [q, dq]
            return dq.outputs[0]
        }
        let conv1 = op("conv", "conv1", [("x", .activation(pair(image, "image"))), ("weight", weight("w1", [64, 64, 3, 3]))], output: [1, 64, 56, 56])
        ops.append(conv1)
        let relu = op("relu", "relu1", [("x", .activation(conv1.outputs[0]))], output: [1, 64, 56, 56])
        ops.append(relu)
        var last = relu.outputs[0]
        for index in 2..<5 {
            let conv = op("conv", "conv\(index)", [("x", .activation(pair(last, "relu\(index - 1)"))), ("weight", weight("w\(index)", [64, 64, 3, 3]))],
                          output: [1, 64, 56, 56])
            let relu = op("relu", "relu\(index)", [("x", .activation(conv.outputs[0]))], output: [1, 64, 56, 56])
            ops += [conv, relu]
            last = relu.outputs[0]
        }
        let conv2 = op("conv", "conv5", [("x", .activation(pair(last, "relu4"))), ("weight", weight("w5", [64, 64, 3, 3]))], output: [1, 64, 56, 56])
        ops.append(conv2)
        let softmax = op("softmax", "softmax", [("x", .activation(pair(conv2.outputs[0], "conv5")))], output: [1, 64, 56, 56])
        ops.append(softmax)
        return OpGraph(operations: ops, inputs: [image])
    }

    /// One transformer block over 128 tokens of width 256, as exporters write it: layer norm →
    /// q, k, v linears → matmul → softmax → matmul → output linear → residual add.
    static func attentionBlock() -> OpGraph {
        let x = tensor("x", [1, 128, 256])
        let norm = op("layer_norm", "norm", [("x", .activation(x)), ("gamma", weight("ln_g", [256])), ("beta", weight("ln_b", [256]))],
                      output: [1, 128, 256])
        func linear(_ name: String, _ input: OpGraph.Tensor) -> OpGraph.Operation {
            op("linear", name, [("x", .activation(input)), ("weight", weight("\(name).weight", [256, 256]))], output: [1, 128, 256])
        }
        let q = linear("q_proj", norm.outputs[0]), k = linear("k_proj", norm.outputs[0]), v = linear("v_proj", norm.outputs[0])
        let scores = OpGraph.Operation(type: "matmul", name: "scores", inputs: [(parameter: "x", values: [.activation(q.outputs[0])]),
                                                                              (parameter: "y", values: [.activation(k.outputs[0])]),
                                                                              (parameter: "transpose_y", values: [flag("ty", true)])],
                                       outputs: [tensor("scores", [1, 128, 128])])
        let softmax = op("softmax", "softmax", [("x", .activation(scores.outputs[0]))], output: [1, 128, 128])
        let mixed = OpGraph.Operation(type: "matmul", name: "mixed", inputs: [(parameter: "x", values: [.activation(softmax.outputs[0])]),
                                                                             (parameter: "y", values: [.activation(v.outputs[0])])],
                                      outputs: [tensor("mixed", [1, 128, 256])])
        let o = linear("o_proj", mixed.outputs[0])
        let residual = OpGraph.Operation(type: "add", name: "residual", inputs: [(parameter: "x", values: [.activation(x)]),
                                                                                (parameter: "y", values: [.activation(o.outputs[0])])],
                                         outputs: [tensor("residual", [1, 128, 256])])
        return OpGraph(operations: [norm, q, k, v, scores, softmax, mixed, o, residual], inputs: [x])
    }
}
