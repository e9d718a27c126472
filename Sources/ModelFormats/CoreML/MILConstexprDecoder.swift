import Execution
import QuantCore

/// Evaluates the constexpr ops that store compressed weights, so a compressed program runs on
/// dense constants. Semantics are those of coremltools' `decompress` of each op (iOS16
/// `constexpr_ops.py`, iOS18 `compression.py`), float16 results rounded to float16 as there:
///
/// - `constexpr_affine_dequantize` (iOS16): `(quantized_data − zero_point) · scale`, per tensor
///   or along `axis`;
/// - `constexpr_blockwise_shift_scale`: `(data − offset) · scale`, each scale repeated over its
///   block (`data.shape[i] / scale.shape[i]` along axis i);
/// - `constexpr_lut_to_dense`: iOS16 a flat LUT of 2ⁿ entries and n-bit indices packed into
///   bytes; iOS18 a LUT per block of the indices (`lut[g…, 2ⁿ, vector]`), vectors laid out along
///   `vector_axis`;
/// - `constexpr_sparse_to_dense`: kept values scattered where the mask is set, zero elsewhere
///   (iOS16 a byte-packed mask and a `shape`, iOS18 a uint1 mask of the output's shape);
/// - `constexpr_sparse_blockwise_shift_scale`, `constexpr_lut_to_sparse`: the same on the kept
///   elements only, giving the mask and the kept values for a `constexpr_sparse_to_dense`.
struct MILConstexprDecoder {
    let name: String
    let type: String
    let parameters: [String: MILConstant]

    static let types: Set<String> = [
        "constexpr_affine_dequantize", "constexpr_blockwise_shift_scale", "constexpr_lut_to_dense",
        "constexpr_sparse_to_dense", "constexpr_sparse_blockwise_shift_scale", "constexpr_lut_to_sparse",
    ]

    /// The op's outputs, in order.
    func outputs() throws(ExecutionError) -> [MILConstant] {
        switch type {
        case "constexpr_affine_dequantize":
            let data = try parameter("quantized_data"), scale = try parameter("scale")
            let zeroPoint = try parameter("zero_point")
            // Scalars (per tensor) or vectors along `axis` (per channel), as blocks of the data.
            var blocks = [Int](repeating: 1, count: data.shape.count)
            if scale.elementCount > 1 {
                let axis = try resolvedAxis(try integer("axis"), rank: data.shape.count)
                blocks[axis] = scale.elementCount
            }
            var scales = scale, offsets = zeroPoint
            scales.shape = blocks
            offsets.shape = blocks
            return [try shiftScale(data, scale: scales, offset: offsets)]
        case "constexpr_blockwise_shift_scale":
            return [try shiftScale(try parameter("data"), scale: try parameter("scale"), offset: parameters["offset"])]
        case "constexpr_lut_to_dense":
            if let shape = parameters["shape"] {
                return [try denseFromLegacyLUT(indices: try parameter("indices"), lut: try parameter("lut"), shape: shape)]
            }
            return [try lookUp(try parameter("indices"), lut: try parameter("lut"))]
        case "constexpr_sparse_to_dense":
            let values = try parameter("nonzero_data")
            if let shape = parameters["shape"] {
                let dims = try dimensions(shape)
                let mask = try unpackedMask(try parameter("mask"), count: dims.reduce(1, *))
                return [try scatter(values, mask: mask, shape: dims)]
            }
            let mask = try parameter("mask")
            return [try scatter(values, mask: try bits(mask), shape: mask.shape)]
        case "constexpr_sparse_blockwise_shift_scale":
            let mask = try parameter("data_mask")
            let kept = try bits(mask)
            let dense = try scatter(try parameter("nonzero_data"), mask: kept, shape: mask.shape)
            let decoded = try shiftScale(dense, scale: try parameter("scale"), offset: parameters["offset"])
            return [mask, try gather(decoded, mask: kept)]
        case "constexpr_lut_to_sparse":
            let mask = try parameter("indices_mask")
            let indices = try scatter(try parameter("indices_nonzero_data"), mask: try bits(mask), shape: mask.shape)
            let lut = try parameter("lut")
            let dense = try lookUp(indices, lut: lut)
            // Vector palettization widens the mask along the vector axis, as it widens the output.
            var outputMask = mask
            if let vectorLength = lut.shape.last, vectorLength > 1 {
                let axis = try resolvedAxis(try integer("vector_axis"), rank: mask.shape.count)
                outputMask = try repeated(mask, times: vectorLength, axis: axis)
            }
            return [outputMask, try gather(dense, mask: try bits(outputMask))]
        default:
            throw .unsupportedOperation(name: name, type: type)
        }
    }

    // MARK: - Parameters

    private func parameter(_ key: String) throws(ExecutionError) -> MILConstant {
        guard let value = parameters[key] else { throw .malformedGraph("op '\(name)' of type '\(type)' has no '\(key)'") }
        return value
    }

    private func integer(_ key: String) throws(ExecutionError) -> Int {
        guard let values = try parameter(key).integers, values.count == 1 else {
            throw .malformedGraph("op '\(name)' of type '\(type)': '\(key)' is not an integer scalar")
        }
        return values[0]
    }

    private func resolvedAxis(_ axis: Int, rank: Int) throws(ExecutionError) -> Int {
        guard (-rank..<rank).contains(axis) else {
            throw .malformedGraph("op '\(name)' of type '\(type)': axis \(axis) is outside rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    private func dimensions(_ shape: MILConstant) throws(ExecutionError) -> [Int] {
        guard let dims = shape.integers, dims.allSatisfy({ $0 >= 0 }) else {
            throw .malformedGraph("op '\(name)' of type '\(type)': 'shape' is not a list of sizes")
        }
        return dims
    }

    private func floats(_ value: MILConstant, _ what: String) throws(ExecutionError) -> [Float] {
        guard let floats = value.floats else { throw .malformedGraph("op '\(name)' of type '\(type)': '\(what)' is not numeric") }
        return floats
    }

    private func bits(_ mask: MILConstant) throws(ExecutionError) -> [Bool] {
        guard let bits = mask.bools else { throw .malformedGraph("op '\(name)' of type '\(type)': the mask is not integer") }
        return bits
    }

    // MARK: - Forms

    /// `(data − offset) · scale` with each scale and offset spread over its block; the result
    /// takes the scale's float type.
    private func shiftScale(_ data: MILConstant, scale: MILConstant, offset: MILConstant?) throws(ExecutionError) -> MILConstant {
        guard scale.shape.count == data.shape.count, offset.map({ $0.shape == scale.shape }) ?? true,
              zip(data.shape, scale.shape).allSatisfy({ $1 > 0 && $0 % $1 == 0 }) else {
            throw .malformedGraph("op '\(name)' of type '\(type)': scale \(scale.shape) does not tile data \(data.shape)")
        }
        let values = try floats(data, "data"), scales = try floats(scale, "scale")
        let offsets = try offset.map { (o) throws(ExecutionError) in try floats(o, "offset") }
        let blocks = BlockIndex(shape: data.shape, blocks: scale.shape)
        var output = [Float](repeating: 0, count: values.count)
        blocks.forEach { element, block in
            output[element] = (values[element] - (offsets?[block] ?? 0)) * scales[block]
        }
        return MILConstant(shape: data.shape, dataType: scale.dataType, elements: .floats(scale.rounded(output)))
    }

    /// iOS16: `indices` are the bytes of n-bit codes packed LSB-first, n = log2 of the LUT's size.
    private func denseFromLegacyLUT(indices: MILConstant, lut: MILConstant, shape: MILConstant) throws(ExecutionError) -> MILConstant {
        let dims = try dimensions(shape)
        let entries = lut.elementCount
        let bits = entries.trailingZeroBitCount
        guard entries.nonzeroBitCount == 1, (1...8).contains(bits), let bytes = indices.integers else {
            throw .malformedGraph("op '\(name)' of type '\(type)': a LUT of \(entries) entries is not 2, 4 … 256")
        }
        let count = dims.reduce(1, *)
        guard bytes.count >= BitPacking.packedByteCount(count: count, bits: bits) else {
            throw .malformedGraph("op '\(name)' of type '\(type)': \(bytes.count) index bytes for \(count) \(bits)-bit indices")
        }
        let codes = [UInt8](bytes.map { UInt8(truncatingIfNeeded: $0) }).withUnsafeBytes { BitPacking.unpack($0, count: count, bits: bits) }
        let table = try floats(lut, "lut")
        return MILConstant(shape: dims, dataType: lut.dataType, elements: .floats(codes.map { table[Int($0)] }))
    }

    /// iOS18: each block of `indices` reads its own table of `lut[g…, entries, vector]`; a vector
    /// fills `vector` consecutive positions along `vector_axis`.
    private func lookUp(_ indices: MILConstant, lut: MILConstant) throws(ExecutionError) -> MILConstant {
        let rank = indices.shape.count
        guard lut.shape.count == rank + 2, let codes = indices.integers,
              zip(indices.shape, lut.shape).allSatisfy({ $1 > 0 && $0 % $1 == 0 }) else {
            throw .malformedGraph("op '\(name)' of type '\(type)': LUT \(lut.shape) does not fit indices \(indices.shape)")
        }
        let entries = lut.shape[rank], vectorLength = lut.shape[rank + 1]
        var outputShape = indices.shape
        var vectorAxis = 0
        if vectorLength > 1 {
            vectorAxis = try resolvedAxis(try integer("vector_axis"), rank: rank)
            outputShape[vectorAxis] *= vectorLength
        }
        let table = try floats(lut, "lut")
        let outputStrides = Self.strides(outputShape)
        let indexStrides = Self.strides(indices.shape)
        let blocks = BlockIndex(shape: indices.shape, blocks: Array(lut.shape.prefix(rank)))
        var output = [Float](repeating: 0, count: outputShape.reduce(1, *))
        var failed = false
        blocks.forEach { position, group in
            let code = codes[position]
            guard (0..<entries).contains(code) else { failed = true; return }
            // The output position of the vector's first component: the vector axis's
            // coordinate scaled by the vector length.
            var start = 0
            for axis in 0..<rank {
                let coordinate = position / indexStrides[axis] % indices.shape[axis]
                start += (axis == vectorAxis ? coordinate * vectorLength : coordinate) * outputStrides[axis]
            }
            let entry = (group * entries + code) * vectorLength
            for component in 0..<vectorLength {
                output[start + component * outputStrides[vectorAxis]] = table[entry + component]
            }
        }
        if failed { throw .malformedGraph("op '\(name)' of type '\(type)': an index is outside the LUT's \(entries) entries") }
        return MILConstant(shape: outputShape, dataType: lut.dataType, elements: .floats(output))
    }

    /// `values` at the set positions of `mask`, in row-major order, zero elsewhere.
    private func scatter(_ values: MILConstant, mask: [Bool], shape: [Int]) throws(ExecutionError) -> MILConstant {
        let count = shape.reduce(1, *)
        let kept = mask.prefix(count).reduce(0) { $0 + ($1 ? 1 : 0) }
        guard mask.count >= count, kept == values.elementCount else {
            throw .malformedGraph("op '\(name)' of type '\(type)': the mask keeps \(kept) elements but \(values.elementCount) values are stored")
        }
        func place<T>(_ stored: [T], zero: T) -> [T] {
            var dense = [T](repeating: zero, count: count)
            var next = 0
            for index in 0..<count where mask[index] {
                dense[index] = stored[next]
                next += 1
            }
            return dense
        }
        switch values.elements {
        case .floats(let v): return MILConstant(shape: shape, dataType: values.dataType, elements: .floats(place(v, zero: 0)))
        case .integers(let v): return MILConstant(shape: shape, dataType: values.dataType, elements: .integers(place(v, zero: 0)))
        case .bools, .strings: throw .malformedGraph("op '\(name)' of type '\(type)': the stored values are not numeric")
        }
    }

    private func gather(_ dense: MILConstant, mask: [Bool]) throws(ExecutionError) -> MILConstant {
        let values = try floats(dense, "values")
        let kept = zip(values, mask).compactMap { $1 ? $0 : nil }
        return MILConstant(shape: [kept.count], dataType: dense.dataType, elements: .floats(kept))
    }

    /// An iOS16 mask: one bit per element, LSB-first in each byte.
    private func unpackedMask(_ mask: MILConstant, count: Int) throws(ExecutionError) -> [Bool] {
        guard let bytes = mask.integers, bytes.count * 8 >= count else {
            throw .malformedGraph("op '\(name)' of type '\(type)': the mask does not cover \(count) elements")
        }
        return (0..<count).map { bytes[$0 >> 3] & (1 << ($0 & 7)) != 0 }
    }

    /// Each element `times` times along `axis`, as numpy's `repeat`.
    private func repeated(_ value: MILConstant, times: Int, axis: Int) throws(ExecutionError) -> MILConstant {
        guard let codes = value.integers else { throw .malformedGraph("op '\(name)' of type '\(type)': the mask is not integer") }
        var shape = value.shape
        shape[axis] *= times
        let strides = Self.strides(shape)
        let sourceStrides = Self.strides(value.shape)
        var output = [Int64](repeating: 0, count: shape.reduce(1, *))
        for index in output.indices {
            var source = 0
            for d in shape.indices {
                let coordinate = index / strides[d] % shape[d]
                source += (d == axis ? coordinate / times : coordinate) * sourceStrides[d]
            }
            output[index] = Int64(codes[source])
        }
        return MILConstant(shape: shape, dataType: value.dataType, elements: .integers(output))
    }

    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.reversed().dropFirst() { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        return strides
    }
}

/// Walks a tensor's elements in row-major order with the index of the block each one is in,
/// blocks being `shape[i] / blocks[i]` elements long along axis i (a per-block parameter of
/// shape `blocks`, row-major).
private struct BlockIndex {
    let shape: [Int]
    let blocks: [Int]

    func forEach(_ body: (_ element: Int, _ block: Int) -> Void) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let blockLengths = zip(shape, blocks).map { $0 / $1 }
        let blockStrides = MILConstexprDecoder.strides(blocks)
        var coordinates = [Int](repeating: 0, count: shape.count)
        var block = 0
        for element in 0..<count {
            body(element, block)
            // Odometer step: carry through the axes that wrap, keeping the block index in step.
            var axis = shape.count - 1
            while axis >= 0 {
                let before = coordinates[axis] / blockLengths[axis]
                coordinates[axis] += 1
                if coordinates[axis] < shape[axis] {
                    block += (coordinates[axis] / blockLengths[axis] - before) * blockStrides[axis]
                    break
                }
                coordinates[axis] = 0
                block -= before * blockStrides[axis]
                axis -= 1
            }
        }
    }
}
