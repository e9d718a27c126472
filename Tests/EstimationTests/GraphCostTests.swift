import ModelFormats
import Testing
@testable import Estimation

@Suite("Graph cost")
struct GraphCostTests {
    @Test("convolutions, depthwise convolutions and linears count their MACs from the shapes")
    func macsFromShapes() {
        let cost = GraphCost(graph: GraphFixtures.smallNetwork())
        let byName = Dictionary(uniqueKeysWithValues: cost.operations.map { ($0.name, $0) })
        // 112·112·64 outputs × 3·7·7 products: ResNet50's stem, 118 M MACs.
        #expect(byName["conv1"]?.macs == 112 * 112 * 64 * 3 * 7 * 7)
        #expect(byName["dw"]?.macs == 112 * 112 * 64 * 9)
        #expect(byName["fc"]?.macs == 1000 * 2048)
        #expect(byName["bn1"]?.macs == 0)
        #expect(byName["conv1"]?.category == .matrix)
        #expect(byName["dw"]?.category == .depthwise)
        #expect(byName["bn1"]?.category == .fusedElementwise)
        #expect(byName["pool"]?.category == .reduction)
    }

    @Test("batch-norm running statistics are stored but are not parameters")
    func parameters() {
        let cost = GraphCost(graph: GraphFixtures.smallNetwork())
        let expected = 64 * 3 * 7 * 7 + 2 * 64 + 64 * 9 + 1000 * 2048 + 1000
        #expect(cost.parameters == expected)
        #expect(cost.float16WeightBytes == (expected + 2 * 64) * 2)
    }

    @Test("weight bytes follow the stored form; the float16 baseline does not")
    func storedBytes() {
        let dense = GraphCost(graph: GraphFixtures.smallNetwork())
        let int8 = GraphCost(graph: GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 8), convBytes: 64 * 147 + 64 * 2))
        #expect(dense.weightBytes - int8.weightBytes == 64 * 147 * 2 - (64 * 147 + 128))
        #expect(dense.float16WeightBytes == int8.float16WeightBytes)
        #expect(int8.operations[0].weightForm?.bits == 8)
    }

    @Test("activation bytes are inputs plus outputs at their element width")
    func activationBytes() {
        let cost = GraphCost(graph: GraphFixtures.smallNetwork())
        #expect(cost.operations[0].activationBytes == (3 * 224 * 224 + 64 * 112 * 112) * 2)
        #expect(cost.peakActivationBytes == 2 * 64 * 112 * 112 * 2)
    }

    @Test("matmul sums its inner dimension, honouring transpose_x; conv_transpose scatters every input")
    func matmulAndTransposedConvolution() {
        let matmul = GraphFixtures.op("matmul", "mm", [("x", .activation(GraphFixtures.tensor("x", [8, 96, 32]))), ("transpose_x", GraphFixtures.flag("tx", true)),
                                                      ("y", GraphFixtures.weight("y", [96, 40]))], output: [8, 32, 40])
        let transposed = GraphFixtures.op("conv_transpose", "up", [("x", .activation(GraphFixtures.tensor("x", [1, 16, 10, 10]))),
                                                                    ("weight", GraphFixtures.weight("w", [16, 8, 4, 4]))], output: [1, 8, 20, 20])
        let cost = GraphCost(graph: OpGraph(operations: [matmul, transposed], inputs: []))
        #expect(cost.operations[0].macs == 8 * 32 * 40 * 96)
        #expect(cost.operations[0].weightName == "y")
        #expect(cost.operations[1].macs == 16 * 10 * 10 * 8 * 16)
    }

    @Test("attention counts the score and the weighted-sum products")
    func attention() {
        let sdpa = GraphFixtures.op("scaled_dot_product_attention", "attn", [
            ("query", .activation(GraphFixtures.tensor("q", [2, 8, 128, 64]))), ("key", .activation(GraphFixtures.tensor("k", [2, 8, 256, 64]))),
            ("value", .activation(GraphFixtures.tensor("v", [2, 8, 256, 32])))], output: [2, 8, 128, 32])
        let cost = GraphCost(graph: OpGraph(operations: [sdpa], inputs: []))
        #expect(cost.macs == 2 * 8 * 128 * 256 * (64 + 32))
        #expect(cost.operations[0].category == .matrix)
        #expect(cost.parameters == 0)
    }

    /// A model may declare shapes whose products pass Int.max (the fuzzers' lead): the counts
    /// saturate, and estimating such a model does not trap.
    @Test func hugeDeclaredShapesSaturateInsteadOfTrapping() {
        let huge = GraphFixtures.tensor("x", [1, 1 << 28, 1 << 28])
        let conv = GraphFixtures.op("conv", "c", [("x", .activation(huge)), ("weight", GraphFixtures.weight("w", [2, 1 << 28, 1 << 20]))],
                                    output: [1, 1 << 28, 1 << 28])
        let cost = GraphCost(graph: OpGraph(operations: [conv, conv], inputs: [huge]))
        #expect(cost.operations[0].macs == .max)
        #expect(cost.macs == .max)
    }

    @Test("int8 regions come from the model's quantize/dequantize ops: ops reading dequantized values run in int8, pairs inside the region are absorbed, pairs into float ops are transitions")
    func activationFormsFollowTheGraph() {
        let cost = GraphCost(graph: GraphFixtures.quantizedNetwork())
        let form = Dictionary(uniqueKeysWithValues: cost.operations.map { ($0.name, $0.activations) })
        #expect(form["conv1"] == .int8 && form["conv5"] == .int8)
        #expect(form["softmax"] == .float && form["relu1"] == .float)
        #expect(form["image_dq"] == .absorbed && form["relu1_q"] == .absorbed && form["relu1_dq"] == .absorbed)
        #expect(form["conv5_q"] == .absorbed)
        #expect(form["conv5_dq"] == .transition)
        // The input's quantize reads a value no int8 op produced: a transition.
        #expect(form["image_q"] == .transition)
        #expect(GraphCost(graph: GraphFixtures.quantizedNetwork(quantized: false)).operations.allSatisfy { $0.activations == .float })
    }

    @Test("int8_activations on a transformer block follows coremltools' op set: linears and the residual add in int8, matmul, softmax and layer norm in float16, a transition wherever the regions meet")
    func transformerActivationQuantizationIsMixed() {
        let cost = GraphCost(graph: GraphFixtures.attentionBlock(), assumingInt8Activations: true)
        let form = Dictionary(cost.operations.map { ($0.name, $0.activations) }, uniquingKeysWith: { a, _ in a })
        for name in ["q_proj", "k_proj", "v_proj", "o_proj", "residual"] { #expect(form[name] == .int8, "\(name)") }
        for name in ["norm", "scores", "softmax", "mixed"] { #expect(form[name] == .float, "\(name)") }
        let transitions = cost.operations.filter { $0.activations == .transition }
        // Quantize: the norm's output (read by three linears: once), the attention output, the
        // block input into the add. Dequantize: q, k and v, read by the float matmuls. The
        // residual is the output: left as written.
        #expect(Set(transitions.map(\.name)) == ["norm_quantize", "mixed_quantize", "x_quantize",
                                                 "q_proj_dequantize", "k_proj_dequantize", "v_proj_dequantize"])
        // A transition reads float16 and writes int8 (or back): three bytes per element.
        let normElements = 128 * 256
        #expect(transitions.first { $0.name == "norm_quantize" }?.activationBytes == 3 * normElements)
        // Without the flag nothing is int8.
        #expect(GraphCost(graph: GraphFixtures.attentionBlock()).operations.allSatisfy { $0.activations == .float })
    }

    @Test("int8_activations on a CNN leaves no float op inside: every conv int8, fused ops in their region, one transition at the input")
    func cnnActivationQuantizationIsWhole() {
        let cost = GraphCost(graph: GraphFixtures.quantizedNetwork(quantized: false), assumingInt8Activations: true)
        let form = Dictionary(cost.operations.map { ($0.name, $0.activations) }, uniquingKeysWith: { a, _ in a })
        for index in 1...5 { #expect(form["conv\(index)"] == .int8) }
        // conv5 feeds the float softmax: one dequantize; the image enters through one quantize.
        #expect(Set(cost.operations.filter { $0.activations == .transition }.map(\.name)) == ["image_quantize", "conv5_dequantize"])
    }
}
