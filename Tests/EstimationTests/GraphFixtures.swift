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
}
