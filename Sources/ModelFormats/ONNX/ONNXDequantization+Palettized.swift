import QuantCore

extension ONNXDequantization {
    /// A palettized weight as `Cast(indices → int32)`, `Add(group offsets)` when there are
    /// several LUTs, `Gather(flattened LUT)`, `Transpose` + `Reshape` to put vector components
    /// (`cluster_dim` > 1) back on the channel axis, and `Mul(per-channel scale)` where present.
    ///
    /// Storage: indices UINT4 (½ byte per index, packed) when nbits ≤ 4, else UINT8 (1 byte);
    /// the LUT `[groups · 2^nbits(, clusterDim)]` and the scale in the weight's type (F32 for
    /// BF16 weights, which onnxruntime's CPU Mul does not take: a `Cast` ends the chain);
    /// group offsets INT32, one per channel (vector). Opset 21 and IR version 10 for UINT4
    /// indices, else 13.
    public static func palettized(_ palette: PalettizedTensor, weight: String) -> ONNXDequantization {
        let packsIndices = palette.nbits <= 4
        let indices = ONNXTensor(name: "\(weight)_indices", dataType: packsIndices ? .uint4 : .uint8, dims: palette.indexShape,
                                 bytes: packsIndices ? BitPacking.pack(palette.indices, bits: 4) : palette.indices)
        var result = lookUp(indices: indices, palette: palette, reservesZero: false, weight: weight)
        result.initializers.insert(indices, at: 0)
        if packsIndices {
            result.minimumOpset = 21
            result.minimumIRVersion = 10
        }
        return result
    }

    /// The nodes from an index tensor (any integer type Cast reads) to the weight, with the
    /// LUT, offset and scale initializers. With `reservesZero` each group's LUT starts with an
    /// extra 0 entry and indices count from 1, so index 0 (a sparse tensor's pruned positions)
    /// gives exactly 0.
    static func lookUp(indices: ONNXTensor, palette: PalettizedTensor, reservesZero: Bool, weight: String) -> ONNXDequantization {
        let rank = palette.shape.count
        let axis = palette.channelAxis
        let d = palette.clusterDim
        let groups = palette.lutShape[0]
        let entries = 1 << palette.nbits
        let slots = entries + (reservesZero ? 1 : 0)
        let castsToBFloat16 = palette.lutType == .bfloat16
        let valueType: ScalarType = castsToBFloat16 ? .float32 : palette.lutType

        var lut: [Float] = []
        lut.reserveCapacity(groups * slots * d)
        for group in 0..<groups {
            if reservesZero { lut += [Float](repeating: 0, count: d) }
            lut += palette.lut[(group * entries * d)..<((group + 1) * entries * d)]
        }
        var initializers = [ONNXTensor(name: "\(weight)_lut", dataType: ONNXDataType(valueType)!,
                                       dims: d == 1 ? [groups * slots] : [groups * slots, d],
                                       bytes: ONNXFloatEncoding.bytes(lut, as: valueType))]
        var nodes = [ONNXNode(opType: "Cast", name: "\(weight)_Cast_indices", inputs: [indices.name],
                              outputs: ["\(weight)_index"], attributes: [.init("to", .int(Int(ONNXDataType.int32.rawValue)))])]
        var index = "\(weight)_index"
        if groups > 1 {
            // One offset per channel vector, broadcast over the other axes.
            let vectors = palette.indexShape[axis]
            var dims = [Int](repeating: 1, count: rank)
            dims[axis] = vectors
            let offsets = (0..<vectors).map { Int32($0 * d / palette.groupSize * slots) }
            initializers.append(.int32("\(weight)_group_offsets", dims: dims, offsets))
            nodes.append(ONNXNode(opType: "Add", name: "\(weight)_Add_offsets", inputs: [index, "\(weight)_group_offsets"],
                                  outputs: ["\(weight)_lut_index"]))
            index = "\(weight)_lut_index"
        }
        var value = "\(weight)_gathered"
        nodes.append(ONNXNode(opType: "Gather", name: "\(weight)_Gather", inputs: ["\(weight)_lut", index], outputs: [value]))
        if d > 1 {
            // Gather appends the vector's components as a last axis; they belong right after
            // the channel-vector axis, merged with it.
            let perm = Array(0...axis) + [rank] + Array((axis + 1)..<rank)
            nodes.append(ONNXNode(opType: "Transpose", name: "\(weight)_Transpose", inputs: [value],
                                  outputs: ["\(weight)_vectors"], attributes: [.init("perm", .ints(perm))]))
            initializers.append(.int64("\(weight)_shape", dims: [rank], palette.shape.map(Int64.init)))
            nodes.append(ONNXNode(opType: "Reshape", name: "\(weight)_Reshape", inputs: ["\(weight)_vectors", "\(weight)_shape"],
                                  outputs: ["\(weight)_unscaled"]))
            value = "\(weight)_unscaled"
        }
        if let scale = palette.perChannelScale, let dims = palette.perChannelScaleShape {
            initializers.append(ONNXTensor(name: "\(weight)_scale", dataType: ONNXDataType(valueType)!, dims: dims,
                                           bytes: ONNXFloatEncoding.bytes(scale, as: valueType)))
            nodes.append(ONNXNode(opType: "Mul", name: "\(weight)_Mul_scale", inputs: [value, "\(weight)_scale"],
                                  outputs: ["\(weight)_scaled"]))
            value = "\(weight)_scaled"
        }
        if castsToBFloat16 {
            nodes.append(ONNXNode(opType: "Cast", name: "\(weight)_Cast", inputs: [value], outputs: [weight],
                                  attributes: [.init("to", .int(Int(ONNXDataType.bfloat16.rawValue)))]))
        } else {
            nodes[nodes.count - 1].outputs = [weight]
        }
        return ONNXDequantization(initializers: initializers, nodes: nodes)
    }
}
