import QuantCore

extension ONNXDequantization {
    /// A pruned weight as a sparse initializer named like it: the kept values in the weight's
    /// type and their row-major positions in the narrowest index type onnxruntime accepts
    /// that holds them (INT8, INT16, INT32 or INT64; it refuses unsigned ones).
    ///
    /// Storage per kept element: the value's width plus 1, 2, 4 or 8 index bytes. Opset 13.
    public static func pruned(_ pruned: PrunedTensor, weight: String) -> ONNXDequantization {
        let values = ONNXTensor(name: weight, dataType: ONNXDataType(pruned.type)!, dims: [pruned.nonZeroCount], bytes: pruned.values)
        return ONNXDequantization(sparseInitializers: [sparse(values, mask: pruned.mask, shape: pruned.shape, weight: weight)])
    }

    /// Pruned, then linearly quantized: the kept codes less their block's zero point as a
    /// sparse INT8 tensor (INT16 when a difference does not fit), dequantized without a zero
    /// point so that the positions the sparse tensor leaves 0 give exactly 0.
    ///
    /// Storage per kept element: 1 (or 2) code bytes plus the index bytes of `pruned`; scales
    /// as in `linear`. Opset as `linear` needs, 21 with INT16 codes.
    public static func prunedLinear(_ quantized: SparseLinearQuantizedTensor, weight: String) throws(ONNXError) -> ONNXDequantization {
        let layout = try ONNXScaleLayout(shape: quantized.shape, blockCounts: quantized.scaleShape, weight: weight)
        let signed = quantized.config.dtype.isSigned
        func integer(_ byte: UInt8) -> Int { signed ? Int(Int8(bitPattern: byte)) : Int(byte) }
        var differences: [Int] = []
        differences.reserveCapacity(quantized.nonZeroCount)
        var ordinal = 0
        ONNXSparsePositions.forEachKept(quantized.mask, count: quantized.shape.reduce(1, *)) { position in
            let zeroPoint = quantized.zeroPoints.map { integer($0[layout.block(ofElement: position)]) } ?? 0
            differences.append(integer(quantized.codes[ordinal]) - zeroPoint)
            ordinal += 1
        }
        let fitsInt8 = differences.allSatisfy { Int(Int8.min)...Int(Int8.max) ~= $0 }
        let bytes: [UInt8] = fitsInt8
            ? differences.map { UInt8(bitPattern: Int8($0)) }
            : differences.flatMap { value in withUnsafeBytes(of: Int16(value).littleEndian) { Array($0) } }
        let codes = ONNXTensor(name: "\(weight)_quantized", dataType: fitsInt8 ? .int8 : .int16, dims: [quantized.nonZeroCount], bytes: bytes)
        var result = dequantize(codes.name, scales: quantized.scales, layout: layout, zeroPoint: nil,
                                scaleType: quantized.scaleType, weight: weight)
        result.sparseInitializers = [sparse(codes, mask: quantized.mask, shape: quantized.shape, weight: weight)]
        if !fitsInt8 {
            result.minimumOpset = 21
            result.minimumIRVersion = 10
        }
        return result
    }

    /// Pruned, then palettized: the kept elements' indices plus 1 as a sparse UINT8 tensor
    /// (INT16 for 8-bit palettes), looked up in LUTs that start with a 0 entry, so pruned
    /// positions give exactly 0. Vector palettes (`cluster_dim` > 1) index several elements
    /// at once and cannot be pruned per element.
    ///
    /// Storage per kept element: 1 (or 2) index bytes plus the position bytes of `pruned`;
    /// the LUT grows by one entry per group. Opset 13.
    public static func prunedPalettized(_ pruned: PrunedTensor, _ palette: PalettizedTensor,
                                        weight: String) throws(ONNXError) -> ONNXDequantization {
        guard palette.clusterDim == 1 else {
            throw .inexpressible(weight: weight, reason: "pruned vector palettization (cluster_dim \(palette.clusterDim)) has no ONNX form here; use cluster_dim 1")
        }
        let wide = palette.nbits == 8
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pruned.nonZeroCount * (wide ? 2 : 1))
        ONNXSparsePositions.forEachKept(pruned.mask, count: pruned.count) { position in
            let shifted = Int(palette.indices[position]) + 1
            if wide {
                withUnsafeBytes(of: Int16(shifted).littleEndian) { bytes += $0 }
            } else {
                bytes.append(UInt8(shifted))
            }
        }
        let indices = ONNXTensor(name: "\(weight)_indices", dataType: wide ? .int16 : .uint8, dims: [pruned.nonZeroCount], bytes: bytes)
        var result = lookUp(indices: indices, palette: palette, reservesZero: true, weight: weight)
        result.sparseInitializers = [sparse(indices, mask: pruned.mask, shape: pruned.shape, weight: weight)]
        return result
    }

    private static func sparse(_ values: ONNXTensor, mask: [UInt8], shape: [Int], weight: String) -> ONNXSparseTensor {
        let count = shape.reduce(1, *)
        var positions: [Int] = []
        positions.reserveCapacity(values.dims.first ?? 0)
        ONNXSparsePositions.forEachKept(mask, count: count) { positions.append($0) }
        return ONNXSparseTensor(values: values, indices: ONNXSparsePositions.tensor(positions, count: count, name: "\(weight)_positions"),
                                dims: shape)
    }
}
