import QuantCore

extension ONNXDequantization {
    /// A palettized weight whose LUT is itself linearly quantized (coremltools' palettize then
    /// `linear_quantize_weights(joint_compression=True)`): the LUT initializer becomes its
    /// int8/uint8 codes and a per-tensor `DequantizeLinear` that rebuilds it, ahead of the lookup.
    public static func palettized(_ palette: PalettizedTensor, quantizedLUT lut: LinearQuantizedTensor,
                                  weight: String) throws(ONNXError) -> ONNXDequantization {
        var result = palettized(palette, weight: weight)
        let lutName = "\(weight)_lut"
        guard let index = result.initializers.firstIndex(where: { $0.name == lutName }),
              lut.scales.count == 1, lut.config.dtype.bitWidth == 8,
              let scaleType = ONNXDataType(palette.lutType), scaleType == .float || scaleType == .float16 else {
            throw .inexpressible(weight: weight, reason: "only a per-tensor int8/uint8 LUT of a float32 or float16 weight is written as DequantizeLinear")
        }
        let codeType: ONNXDataType = lut.config.dtype.isSigned ? .int8 : .uint8
        let dims = result.initializers[index].dims
        var added = [
            ONNXTensor(name: "\(lutName)_quantized", dataType: codeType, dims: dims, bytes: lut.codes),
            ONNXTensor(name: "\(lutName)_scale", dataType: scaleType, dims: [], bytes: ONNXFloatEncoding.bytes(lut.scales, as: palette.lutType)),
        ]
        var inputs = ["\(lutName)_quantized", "\(lutName)_scale"]
        if let zeroPoints = lut.zeroPoints {
            added.append(ONNXTensor(name: "\(lutName)_zero_point", dataType: codeType, dims: [], bytes: zeroPoints))
            inputs.append("\(lutName)_zero_point")
        }
        result.initializers.replaceSubrange(index...index, with: added)
        result.nodes.insert(ONNXNode(opType: "DequantizeLinear", name: "\(lutName)_DequantizeLinear", inputs: inputs, outputs: [lutName]), at: 0)
        // A float16 scale needs DequantizeLinear-19.
        if scaleType == .float16 { result.minimumOpset = max(result.minimumOpset, 19) }
        return result
    }
}
