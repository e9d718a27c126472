/// Linear (de)quantization per tensor, per channel or per block, and onnxruntime's MatMulNBits.
enum QuantizationKernels {
    /// Where each element's scale and zero point sit: one for the tensor, one per index of
    /// `axis`, or one per block of `blockSize` along `axis` (parameters shaped like the data
    /// with that axis divided into blocks).
    private struct ParameterLayout {
        let outer: Int, span: Int, inner: Int
        let blockSize: Int, blocks: Int
        let perTensor: Bool, blocked: Bool

        init(_ x: Value, parameters: Value, axis: Int, blockSize: Int?, _ context: KernelContext) throws(ExecutionError) {
            // One scale for the whole tensor: its axis does not matter (ONNX ignores it there).
            let axis = x.rank == 0 || (parameters.count == 1 && blockSize == nil) ? 0 : try context.axis(axis, rank: x.rank)
            let hasAxis = x.rank > 0
            outer = hasAxis ? x.shape[..<axis].reduce(1, *) : 1
            span = hasAxis ? x.shape[axis] : 1
            inner = hasAxis ? x.shape[(axis + 1)...].reduce(1, *) : 1
            perTensor = parameters.count == 1 && blockSize == nil
            blocked = blockSize != nil
            if let blockSize {
                guard blockSize > 0 else { throw context.shapeMismatch("a block size of \(blockSize)") }
                self.blockSize = blockSize
                blocks = (span + blockSize - 1) / blockSize
                guard parameters.count == outer * blocks * inner else {
                    throw context.shapeMismatch("\(parameters.count) scales for \(x.shape) in blocks of \(blockSize) along axis \(axis); need \(outer * blocks * inner)")
                }
            } else {
                self.blockSize = 1
                blocks = span
                guard perTensor || parameters.count == span else {
                    throw context.shapeMismatch("\(parameters.count) scales for \(x.shape) along axis \(axis); need 1 or \(span)")
                }
            }
        }

        /// The parameter index of element `index` of the data.
        @inline(__always)
        func parameter(_ index: Int) -> Int {
            if perTensor { return 0 }
            let position = (index / inner) % span
            guard blocked else { return position }
            return ((index / (span * inner)) * blocks + position / blockSize) * inner + index % inner
        }
    }

    /// (x − zeroPoint) · scale.
    static func dequantize(_ x: Value, scale: Value, zeroPoint: Value?, axis: Int, blockSize: Int?, _ context: KernelContext) throws(ExecutionError) -> Value {
        let layout = try ParameterLayout(x, parameters: scale, axis: axis, blockSize: blockSize, context)
        if let zeroPoint, zeroPoint.count != scale.count { throw context.shapeMismatch("\(zeroPoint.count) zero points for \(scale.count) scales") }
        let codes = try CastKernel.run(x, to: .float32, context)
        let zeros = try zeroPoint.map { (zp: Value) throws(ExecutionError) -> Value in try CastKernel.run(zp, to: .float32, context) }
        let result = context.allocate(.float32, shape: x.shape)
        let (source, target, scales) = (codes.floats, result.floats, scale.floats)
        let offsets = zeros?.floats
        context.parallelFor(x.count, costPerItem: 4) { range in
            for index in range {
                let p = layout.parameter(index)
                target[index] = (source[index] - (offsets?[p] ?? 0)) * scales[p]
            }
        }
        return result
    }

    /// round-half-to-even(x / scale) + zeroPoint, saturated to `range`; int64 codes.
    static func quantize(_ x: Value, scale: Value, zeroPoint: Value?, axis: Int, blockSize: Int?, range: ClosedRange<Int>,
                         _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.type == .float32 else { throw context.unsupported("quantizing \(x.type) values") }
        let layout = try ParameterLayout(x, parameters: scale, axis: axis, blockSize: blockSize, context)
        if let zeroPoint, zeroPoint.count != scale.count { throw context.shapeMismatch("\(zeroPoint.count) zero points for \(scale.count) scales") }
        let zeros = zeroPoint?.integers
        let result = context.allocate(.int64, shape: x.shape)
        let (source, target, scales) = (x.floats, result.int64s, scale.floats)
        let low = Float(range.lowerBound), high = Float(range.upperBound)
        for index in 0..<x.count {
            let p = layout.parameter(index)
            let code = (source[index] / scales[p]).rounded(.toNearestOrEven) + Float(zeros?[p] ?? 0)
            target[index] = Int64(code.isNaN ? 0 : Swift.min(Swift.max(code, low), high))
        }
        return result
    }

    /// MatMulNBits' weight as a float [N, K] matrix: B packs each row's K codes in blocks of
    /// `blockSize`, `bits` per code, least significant bits first (the low nibble first for 4
    /// bits); scales are [N · blocks]; zero points are packed the same way per row, or float
    /// per block, and default to 2^(bits−1).
    static func unpackNBits(packed: Value, scales: Value, zeroPoints: Value?, k: Int, n: Int, bits: Int, blockSize: Int,
                            _ context: KernelContext) throws(ExecutionError) -> Value {
        guard (1...8).contains(bits), blockSize > 0, blockSize * bits % 8 == 0 else {
            throw context.unsupported("\(bits)-bit codes in blocks of \(blockSize)")
        }
        let blocks = (k + blockSize - 1) / blockSize, blob = blockSize * bits / 8
        guard packed.count == n * blocks * blob else {
            throw context.shapeMismatch("packed weights of \(packed.shape) for N = \(n), K = \(k) in blocks of \(blockSize); need [\(n), \(blocks), \(blob)]")
        }
        guard scales.type == .float32, scales.count == n * blocks else {
            throw context.shapeMismatch("\(scales.count) scales for N = \(n) rows of \(blocks) blocks")
        }
        let bytes = packed.integers
        let mask = (1 << bits) - 1
        var zeros = [Float](repeating: Float(1 << (bits - 1)), count: n * blocks)
        if let zeroPoints {
            if zeroPoints.type == .float32 {
                guard zeroPoints.count == n * blocks else { throw context.shapeMismatch("\(zeroPoints.count) float zero points for \(n * blocks) blocks") }
                zeros = Array(zeroPoints.floatBuffer)
            } else {
                let rowBytes = (blocks * bits + 7) / 8
                guard zeroPoints.count == n * rowBytes else { throw context.shapeMismatch("\(zeroPoints.count) packed zero points; need \(n * rowBytes)") }
                let packedZeros = zeroPoints.integers
                for row in 0..<n {
                    for block in 0..<blocks {
                        zeros[row * blocks + block] = Float(code(packedZeros, base: row * rowBytes, index: block, bits: bits, mask: mask))
                    }
                }
            }
        }
        let result = context.allocate(.float32, shape: [n, k])
        let target = result.floats, scale = scales.floats
        for row in 0..<n {
            for column in 0..<k {
                let block = column / blockSize, parameter = row * blocks + block
                let value = code(bytes, base: (row * blocks + block) * blob, index: column % blockSize, bits: bits, mask: mask)
                target[row * k + column] = (Float(value) - zeros[parameter]) * scale[parameter]
            }
        }
        return result
    }

    /// The `index`-th `bits`-wide code from `base`, least significant bits first.
    @inline(__always)
    private static func code(_ bytes: [Int], base: Int, index: Int, bits: Int, mask: Int) -> Int {
        let bit = index * bits
        var word = bytes[base + bit / 8] & 0xFF
        if bit % 8 + bits > 8 { word |= (bytes[base + bit / 8 + 1] & 0xFF) << 8 }
        return (word >> (bit % 8)) & mask
    }

    /// a · Wᵀ with W the unpacked weight.
    static func matMulNBits(_ a: Value, packed: Value, scales: Value, zeroPoints: Value?, k: Int, n: Int, bits: Int, blockSize: Int,
                            _ context: KernelContext) throws(ExecutionError) -> Value {
        let weight = try unpackNBits(packed: packed, scales: scales, zeroPoints: zeroPoints, k: k, n: n, bits: bits, blockSize: blockSize, context)
        return try MatMulKernel.linear(a, weight: weight, bias: nil, context)
    }
}
