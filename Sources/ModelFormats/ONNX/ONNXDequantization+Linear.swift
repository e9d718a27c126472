import QuantCore

extension ONNXDequantization {
    /// A linearly quantized weight as `DequantizeLinear(codes, scale[, zero_point]) → weight`.
    ///
    /// Storage: codes INT8/UINT8 (1 byte per element) or INT4/UINT4 (½ byte, two per byte low
    /// nibble first); scale in the weight's type (F32 for BF16 weights, which onnxruntime's CPU
    /// DequantizeLinear does not produce: a `Cast` follows) and zero points in the codes' type,
    /// one per block, repeated along axes a block spans whole (see `ONNXScaleLayout`).
    /// Opset 13 (F32 scale), 19 (F16 scale) or 21 (4-bit codes or blocks, with IR version 10).
    public static func linear(_ quantized: LinearQuantizedTensor, weight: String) throws(ONNXError) -> ONNXDequantization {
        let layout = try ONNXScaleLayout(shape: quantized.shape, blockCounts: quantized.scaleShape, weight: weight)
        let codeType = ONNXLinearCodes.dataType(quantized.config.dtype)
        let codes = ONNXTensor(name: "\(weight)_quantized", dataType: codeType, dims: quantized.shape,
                               bytes: ONNXLinearCodes.bytes(quantized.codes, bits: quantized.config.dtype.bitWidth))
        let zeroPoints = quantized.zeroPoints.map { zeroPoints in
            ONNXTensor(name: "\(weight)_zero_point", dataType: codeType, dims: layout.dims,
                       bytes: ONNXLinearCodes.bytes(layout.expand(zeroPoints), bits: quantized.config.dtype.bitWidth))
        }
        var result = dequantize(codes.name, scales: quantized.scales, layout: layout, zeroPoint: zeroPoints?.name,
                                scaleType: quantized.scaleType, weight: weight)
        result.initializers = [codes] + result.initializers + (zeroPoints.map { [$0] } ?? [])
        if quantized.config.dtype.bitWidth == 4 {
            result.minimumOpset = 21
            result.minimumIRVersion = 10
        }
        return result
    }

    /// `DequantizeLinear(codes, scale[, zeroPoint])` named `weight` (through a Cast for BF16),
    /// with the scale initializer; the caller adds the codes and zero point.
    static func dequantize(_ codes: String, scales: [Float], layout: ONNXScaleLayout, zeroPoint: String?,
                           scaleType: ScalarType, weight: String) -> ONNXDequantization {
        let castsToBFloat16 = scaleType == .bfloat16
        let storedType: ScalarType = castsToBFloat16 ? .float32 : scaleType
        let scale = ONNXTensor(name: "\(weight)_scale", dataType: ONNXDataType(storedType)!, dims: layout.dims,
                               bytes: ONNXFloatEncoding.bytes(layout.expand(scales), as: storedType))
        let output = castsToBFloat16 ? "\(weight)_float" : weight
        var nodes = [ONNXNode(opType: "DequantizeLinear", name: "\(weight)_DequantizeLinear",
                              inputs: [codes, scale.name] + (zeroPoint.map { [$0] } ?? []), outputs: [output],
                              attributes: layout.attributes)]
        if castsToBFloat16 {
            nodes.append(ONNXNode(opType: "Cast", name: "\(weight)_Cast", inputs: [output], outputs: [weight],
                                  attributes: [.init("to", .int(Int(ONNXDataType.bfloat16.rawValue)))]))
        }
        let opset = layout.minimumOpset(halfPrecisionScale: storedType == .float16)
        return ONNXDequantization(initializers: [scale], nodes: nodes, minimumOpset: opset,
                                  minimumIRVersion: ONNXOpsetRaise.irVersion(forOpset: opset))
    }
}
