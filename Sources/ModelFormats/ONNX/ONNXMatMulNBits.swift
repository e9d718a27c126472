import QuantCore

/// A MatMul weight `[K, N]` quantized for onnxruntime's `com.microsoft.MatMulNBits`, as its
/// `MatMulNBitsQuantizer` names and shapes the inputs: `<B>_Q<bits>` UInt8
/// `[N, blocks, blob]`, `<B>_scales` `[N · blocks]` in the weight's type, `<B>_zero_points`
/// UInt8 when asymmetric. `ONNXRewrite.replaceMatMuls` puts the node in place.
public struct ONNXMatMulNBits: Sendable, Equatable {
    public let initializers: [ONNXTensor]
    public let k: Int
    public let n: Int
    public let bits: Int
    public let blockSize: Int

    public init(_ quantized: MatMulNBitsQuantizer.Result, bits: Int, blockSize: Int, weight: String,
                scaleType: ScalarType) throws(ONNXError) {
        guard let type = ONNXDataType(scaleType), type == .float || type == .float16 else {
            throw .inexpressible(weight: weight, reason: "MatMulNBits takes F32 or F16 weights, not \(scaleType.rawValue)")
        }
        var initializers = [
            ONNXTensor(name: "\(weight)_Q\(bits)", dataType: .uint8,
                       dims: [quantized.n, quantized.blockCount, quantized.blobSize], bytes: quantized.packed),
            ONNXTensor(name: "\(weight)_scales", dataType: type, dims: [quantized.scales.count],
                       bytes: ONNXFloatEncoding.bytes(quantized.scales, as: scaleType)),
        ]
        if let zeroPoints = quantized.zeroPoints {
            initializers.append(ONNXTensor(name: "\(weight)_zero_points", dataType: .uint8, dims: [zeroPoints.count], bytes: zeroPoints))
        }
        self.initializers = initializers
        k = quantized.k
        n = quantized.n
        self.bits = bits
        self.blockSize = blockSize
    }

    /// The node replacing `MatMul(a, B) → output`.
    func node(replacing matMul: OnnxSubset_NodeProto) -> ONNXNode {
        ONNXNode(opType: "MatMulNBits", domain: "com.microsoft", name: matMul.name.isEmpty ? "" : "\(matMul.name)_Q\(bits)",
                 inputs: [matMul.input[0]] + initializers.map(\.name), outputs: matMul.output,
                 attributes: [.init("K", .int(k)), .init("N", .int(n)), .init("bits", .int(bits)), .init("block_size", .int(blockSize))])
    }
}
