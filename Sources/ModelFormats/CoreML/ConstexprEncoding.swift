import QuantCore

/// Compressed weights as the constexpr ops coremltools writes for an opset: the same op
/// types, parameter names, element types and shapes, so Core ML (and coremltools'
/// `decompress_weights`) read quantd's output as their own.
///
/// iOS16/iOS17 (`constexpr_affine_dequantize`, `constexpr_lut_to_dense`,
/// `constexpr_sparse_to_dense`) take 8-bit per-tensor or per-channel quantization, per-tensor
/// LUTs of 1, 2, 4, 6 or 8 bits, and byte-packed masks. iOS18 (`constexpr_blockwise_shift_scale`
/// and the iOS18 forms of the other two) adds blocks, 4-bit types, grouped LUTs and sub-byte
/// element types. What an opset cannot express is an error naming the opset that can.
public enum ConstexprEncoding {
    public static func linear(_ q: LinearQuantizedTensor, weightType: MILBlobDataType,
                              opset: MILOpset) throws(ConstexprEncodingError) -> ConstexprOp {
        let c = q.config
        let scales = floatTensor(q.scales, type: weightType, shape: q.scaleShape)
        if opset.constexprParametersAreInputs {
            let dataType = codeType(c.dtype)
            var parameters = [
                "data": MILTensor(dataType, shape: q.shape, storage: .blob(packed(q.codes, dataType))),
                "scale": scales,
            ]
            if let zeroPoints = q.zeroPoints {
                parameters["offset"] = MILTensor(dataType, shape: q.scaleShape, storage: .blob(packed(zeroPoints, dataType)))
            }
            return ConstexprOp(type: "constexpr_blockwise_shift_scale", parameters: parameters)
        }
        guard c.dtype.bitWidth == 8 else { throw .needsIOS18("\(c.dtype.rawValue) weights", opset) }
        guard c.granularity != .perBlock else { throw .needsIOS18("per_block quantization", opset) }
        let dataType: MILBlobDataType = c.dtype.isSigned ? .int8 : .uint8
        // A vector along the quantized axis, or scalars for per_tensor.
        let parameterShape = c.granularity == .perTensor ? [] : [q.shape[c.outputAxis]]
        let zeroPoints = q.zeroPoints ?? [UInt8](repeating: 0, count: q.scales.count)
        return ConstexprOp(type: "constexpr_affine_dequantize", parameters: [
            "quantized_data": MILTensor(dataType, shape: q.shape, storage: .blob(q.codes)),
            "zero_point": MILTensor(dataType, shape: parameterShape, storage: .blob(zeroPoints)),
            "scale": MILTensor(weightType, shape: parameterShape, storage: scales.storage),
            "axis": MILTensor(.int32, shape: [], storage: .int32([Int32(c.granularity == .perTensor ? 0 : c.outputAxis)])),
        ])
    }

    /// Palettization with coremltools' per-channel scale (iOS18): the LUT is repeated for every
    /// position of the scale and `constexpr_blockwise_shift_scale` scales each copy, then
    /// `constexpr_lut_to_dense` looks the indices up in the scaled copies.
    public static func palettizedWithChannelScale(_ p: PalettizedTensor, weightType: MILBlobDataType,
                                                  opset: MILOpset) throws(ConstexprEncodingError) -> [ConstexprOp] {
        guard let scales = p.perChannelScale, let scaleShape = p.perChannelScaleShape else {
            return [try palettized(p, weightType: weightType, opset: opset)]
        }
        guard opset.constexprParametersAreInputs else { throw .needsIOS18("enable_per_channel_scale", opset) }
        guard let indexType = subByteType(bits: p.nbits) else { throw .unsupported("\(p.nbits)-bit palettization") }
        // LUT prefix: the scale's positions, with the LUT groups on the channel axis.
        var prefix = scaleShape
        prefix[p.channelAxis] = p.lutShape[0]
        let paletteSize = p.lutShape[1] * p.lutShape[2]
        var tiled: [Float] = []
        tiled.reserveCapacity(prefix.reduce(1, *) * paletteSize)
        let strides = prefix.indices.map { prefix[($0 + 1)...].reduce(1, *) }
        for position in 0..<prefix.reduce(1, *) {
            let group = position / strides[p.channelAxis] % prefix[p.channelAxis]
            tiled += p.lut[(group * paletteSize)..<((group + 1) * paletteSize)]
        }
        let lutShape = prefix + [p.lutShape[1], p.lutShape[2]]
        return [
            ConstexprOp(type: "constexpr_blockwise_shift_scale", parameters: [
                "data": floatTensor(tiled, type: weightType, shape: lutShape),
                "scale": floatTensor(scales, type: weightType, shape: scaleShape + [1, 1]),
            ], outputs: [.init(weightType, shape: lutShape)]),
            ConstexprOp(type: "constexpr_lut_to_dense",
                        parameters: ["indices": MILTensor(indexType, shape: p.indexShape, storage: .blob(packed(p.indices, indexType)))],
                        references: ["lut": .init(op: 0, output: 0)]),
        ]
    }

    public static func palettized(_ p: PalettizedTensor, weightType: MILBlobDataType,
                                  opset: MILOpset) throws(ConstexprEncodingError) -> ConstexprOp {
        guard p.perChannelScale == nil else { throw .unsupported("enable_per_channel_scale outside palettizedWithChannelScale") }
        let lutValues = p.lut
        if opset.constexprParametersAreInputs {
            guard let indexType = subByteType(bits: p.nbits) else { throw .unsupported("\(p.nbits)-bit palettization") }
            return ConstexprOp(type: "constexpr_lut_to_dense", parameters: [
                "indices": MILTensor(indexType, shape: p.indexShape, storage: .blob(packed(p.indices, indexType))),
                "lut": floatTensor(lutValues, type: weightType, shape: lutShape(p)),
            ])
        }
        guard p.lutShape[0] == 1 else { throw .needsIOS18("per_grouped_channel palettization", opset) }
        guard p.clusterDim == 1 else { throw .needsIOS18("vector palettization (cluster_dim > 1)", opset) }
        guard [1, 2, 4, 6, 8].contains(p.nbits) else { throw .needsIOS18("\(p.nbits)-bit palettization", opset) }
        let indices = BitPacking.pack(p.indices, bits: p.nbits)
        return ConstexprOp(type: "constexpr_lut_to_dense", parameters: [
            "indices": MILTensor(.uint8, shape: [indices.count], storage: .blob(indices)),
            "lut": floatTensor(lutValues, type: weightType, shape: [1 << p.nbits]),
            "shape": MILTensor(.uint32, shape: [p.shape.count], storage: .uint32(p.shape.map { UInt32($0) })),
        ])
    }

    public static func pruned(_ s: PrunedTensor, weightType: MILBlobDataType, opset: MILOpset) -> ConstexprOp {
        let values = MILTensor(weightType, shape: [s.nonZeroCount], storage: .blob(s.values))
        if opset.constexprParametersAreInputs {
            // uint1 elements packed LSB-first are exactly the mask's bytes.
            return ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [
                "nonzero_data": values,
                "mask": MILTensor(.uint1, shape: s.shape, storage: .blob(s.mask)),
            ])
        }
        return ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [
            "nonzero_data": values,
            "mask": MILTensor(.uint8, shape: [s.mask.count], storage: .blob(s.mask)),
            "shape": MILTensor(.uint32, shape: [s.shape.count], storage: .uint32(s.shape.map { UInt32($0) })),
        ])
    }

    /// Joint prune → quantize (iOS18): `constexpr_sparse_blockwise_shift_scale` gives the mask
    /// and the dequantized kept values, `constexpr_sparse_to_dense` scatters them.
    public static func prunedLinear(_ s: SparseLinearQuantizedTensor, weightType: MILBlobDataType,
                                    opset: MILOpset) throws(ConstexprEncodingError) -> [ConstexprOp] {
        guard opset.constexprParametersAreInputs else { throw .needsIOS18("joint pruning and quantization", opset) }
        let c = s.config
        let dataType = codeType(c.dtype)
        var parameters = [
            "data_mask": MILTensor(.uint1, shape: s.shape, storage: .blob(s.mask)),
            "nonzero_data": MILTensor(dataType, shape: [s.nonZeroCount], storage: .blob(packed(s.codes, dataType))),
            "scale": floatTensor(s.scales, type: weightType, shape: s.scaleShape),
        ]
        if let zeroPoints = s.zeroPoints {
            parameters["offset"] = MILTensor(dataType, shape: s.scaleShape, storage: .blob(packed(zeroPoints, dataType)))
        }
        return sparseChain(ConstexprOp(type: "constexpr_sparse_blockwise_shift_scale", parameters: parameters,
                                       outputs: [.init(.uint1, shape: s.shape), .init(weightType, shape: [s.nonZeroCount])]))
    }

    /// Joint prune → palettize (iOS18): `constexpr_lut_to_sparse` looks up the kept elements'
    /// indices, `constexpr_sparse_to_dense` scatters them. `p` palettizes the pruned dense
    /// weight; only the kept elements' indices are stored.
    public static func prunedPalettized(_ pruned: PrunedTensor, _ p: PalettizedTensor, weightType: MILBlobDataType,
                                        opset: MILOpset) throws(ConstexprEncodingError) -> [ConstexprOp] {
        guard opset.constexprParametersAreInputs else { throw .needsIOS18("joint pruning and palettization", opset) }
        guard p.perChannelScale == nil else { throw .unsupported("enable_per_channel_scale for Core ML models") }
        guard p.clusterDim == 1 else { throw .unsupported("vector palettization (cluster_dim > 1) after pruning") }
        guard let indexType = subByteType(bits: p.nbits) else { throw .unsupported("\(p.nbits)-bit palettization") }
        var kept: [UInt8] = []
        kept.reserveCapacity(pruned.nonZeroCount)
        for i in p.indices.indices where pruned.isKept(i) { kept.append(p.indices[i]) }
        return sparseChain(ConstexprOp(
            type: "constexpr_lut_to_sparse",
            parameters: [
                "indices_mask": MILTensor(.uint1, shape: pruned.shape, storage: .blob(pruned.mask)),
                "indices_nonzero_data": MILTensor(indexType, shape: [kept.count], storage: .blob(packed(kept, indexType))),
                "lut": floatTensor(p.lut, type: weightType, shape: lutShape(p)),
            ],
            outputs: [.init(.uint1, shape: pruned.shape), .init(weightType, shape: [pruned.nonZeroCount])]))
    }

    /// Joint palettize → quantize the LUT (iOS18): `constexpr_blockwise_shift_scale` rebuilds
    /// the LUT, `constexpr_lut_to_dense` looks the indices up in it. `lut` is the LUT quantized
    /// per tensor, as coremltools requires (the LUT's axes are not the weight's).
    public static func palettizedWithQuantizedLUT(_ p: PalettizedTensor, lut: LinearQuantizedTensor, weightType: MILBlobDataType,
                                                  opset: MILOpset) throws(ConstexprEncodingError) -> [ConstexprOp] {
        guard opset.constexprParametersAreInputs else { throw .needsIOS18("a quantized LUT", opset) }
        guard lut.config.granularity == .perTensor else {
            throw .unsupported("LUT quantization other than per_tensor (the LUT's axes are not the weight's, as coremltools also says)")
        }
        guard p.perChannelScale == nil else { throw .unsupported("enable_per_channel_scale for Core ML models") }
        guard let indexType = subByteType(bits: p.nbits) else { throw .unsupported("\(p.nbits)-bit palettization") }
        let shape = lutShape(p), scalarShape = [Int](repeating: 1, count: shape.count)
        let dataType = codeType(lut.config.dtype)
        var parameters = [
            "data": MILTensor(dataType, shape: shape, storage: .blob(packed(lut.codes, dataType))),
            "scale": floatTensor(lut.scales, type: weightType, shape: scalarShape),
        ]
        if let zeroPoints = lut.zeroPoints {
            parameters["offset"] = MILTensor(dataType, shape: scalarShape, storage: .blob(packed(zeroPoints, dataType)))
        }
        return [
            ConstexprOp(type: "constexpr_blockwise_shift_scale", parameters: parameters, outputs: [.init(weightType, shape: shape)]),
            ConstexprOp(type: "constexpr_lut_to_dense",
                        parameters: ["indices": MILTensor(indexType, shape: p.indexShape, storage: .blob(packed(p.indices, indexType)))],
                        references: ["lut": .init(op: 0, output: 0)]),
        ]
    }

    /// `first` (mask, kept values) followed by the op that makes them dense.
    private static func sparseChain(_ first: ConstexprOp) -> [ConstexprOp] {
        [first, ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [:],
                            references: ["mask": .init(op: 0, output: 0), "nonzero_data": .init(op: 0, output: 1)])]
    }

    /// The iOS18 LUT shape: the weight's rank plus two, groups on the channel axis and 1
    /// elsewhere, then the palette and the vector length.
    private static func lutShape(_ p: PalettizedTensor) -> [Int] {
        var shape = [Int](repeating: 1, count: p.shape.count)
        shape[p.channelAxis] = p.lutShape[0]
        return shape + [p.lutShape[1], p.lutShape[2]]
    }

    /// The element type integer codes of `dtype` are stored as.
    private static func codeType(_ dtype: LinearQuantizationConfig.DType) -> MILBlobDataType {
        switch (dtype.bitWidth, dtype.isSigned) {
        case (8, true): .int8
        case (8, false): .uint8
        case (_, true): .int4
        case (_, false): .uint4
        }
    }

    private static func subByteType(bits: Int) -> MILBlobDataType? {
        switch bits {
        case 1: .uint1
        case 2: .uint2
        case 3: .uint3
        case 4: .uint4
        case 6: .uint6
        case 8: .uint8
        default: nil
        }
    }

    /// Codes one per byte, packed LSB-first for sub-byte types.
    private static func packed(_ codes: [UInt8], _ type: MILBlobDataType) -> [UInt8] {
        type.isSubByte ? BitPacking.pack(codes, bits: type.bitWidth) : codes
    }

    private static func floatTensor(_ values: [Float], type: MILBlobDataType, shape: [Int]) -> MILTensor {
        var bytes: [UInt8] = []
        if type == .float16 {
            bytes.reserveCapacity(values.count * 2)
            for v in values { withUnsafeBytes(of: FloatConversion.float16Bits(v).littleEndian) { bytes += $0 } }
        } else {
            bytes.reserveCapacity(values.count * 4)
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        }
        return MILTensor(type, shape: shape, storage: .blob(bytes))
    }
}

public enum ConstexprEncodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case needsIOS18(String, MILOpset)
    case unsupported(String)

    public var description: String {
        switch self {
        case .needsIOS18(let what, let opset):
            "\(what) needs the iOS18 opset (CoreML8), but the model targets \(opset.target) (\(opset.name)); "
                + "set the job's minimum_deployment_target to iOS18 to raise it, or choose an encoding \(opset.target) has"
        case .unsupported(let what): "\(what) is not supported yet"
        }
    }
}
