import QuantCore
import Testing
@testable import ModelFormats

/// Names, shapes and attributes as onnxruntime's `MatMulNBitsQuantizer` writes them (checked
/// once against 1.23.2: identical initializers and outputs).
@Suite struct ONNXMatMulNBitsTests {
    @Test func initializersAreNamedAndShapedAsOnnxruntimeDoes() throws {
        let weight = ONNXTestModels.floats((0..<40).map { Float($0) / 8 - 2 })
        let quantized = try weight.withUnsafeBytes {
            try MatMulNBitsQuantizer(bits: 4, blockSize: 16, isSymmetric: false).quantize($0, type: .float32, k: 20, n: 2)
        }
        let form = try ONNXMatMulNBits(quantized, bits: 4, blockSize: 16, weight: "B", scaleType: .float32)
        #expect(form.initializers.map(\.name) == ["B_Q4", "B_scales", "B_zero_points"])
        #expect(form.initializers.map(\.dims) == [[2, 2, 8], [4], [2]])
        var matMul = OnnxSubset_NodeProto()
        matMul.name = "mm"
        matMul.input = ["A", "B"]
        matMul.output = ["Y"]
        let node = form.node(replacing: matMul)
        #expect(node.name == "mm_Q4" && node.inputs == ["A", "B_Q4", "B_scales", "B_zero_points"] && node.outputs == ["Y"])
    }

    @Test func bfloat16IsNotAMatMulNBitsType() throws {
        let quantized = try [UInt8](repeating: 0, count: 64).withUnsafeBytes {
            try MatMulNBitsQuantizer(bits: 8, blockSize: 16, isSymmetric: true).quantize($0, type: .float32, k: 4, n: 4)
        }
        #expect { try ONNXMatMulNBits(quantized, bits: 8, blockSize: 16, weight: "B", scaleType: .bfloat16) } throws: { error in
            if case ONNXError.inexpressible = error { return true }
            return false
        }
    }
}
