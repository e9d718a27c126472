/// onnxruntime's `MatMulNBitsQuantizer` (default RTN algorithm, QOperator format, no
/// accuracy level) for a MatMul B initializer `[K, N]`, reproduced byte for byte: what
/// `MlasQuantizeBlockwise<T, bits>` (core/mlas/lib/q4_dq.cpp, columnwise) writes into the
/// buffers the Python quantizer hands it.
///
/// Storage, as the com.microsoft `MatMulNBits` op reads it (`blocks = ceil(K / blockSize)`):
/// - `packed`: UInt8 `[N, blocks, blockSize · bits / 8]`, column n's K codes in order, two
///   per byte low nibble first for 4 bits; rows past K are zero bytes — `bits / 8` bytes per
///   weight plus the padding of the last block;
/// - `scales`: `[N · blocks]` in the weight's float type (F32 or F16), column-major by block;
/// - `zeroPoints` (asymmetric only): UInt8 `[N · ceil(blocks · bits / 8)]`, packed like the
///   codes; a 4-bit column with an odd block count ends in the nibble 8.
///
/// Codes are unsigned: `w ≈ (q − zeroPoint) · scale`, the zero point 2^(bits−1) when symmetric.
public struct MatMulNBitsQuantizer: Sendable {
    public let bits: Int
    public let blockSize: Int
    public let isSymmetric: Bool

    /// MLAS instantiates its blockwise quantizer for these sizes only; onnxruntime's Python
    /// quantizer silently writes all-zero buffers for any other.
    public static let blockSizes: Set<Int> = [16, 32, 64, 128, 256]

    /// A configuration `MatMulNBits` (or onnxruntime's quantizer for it) does not support.
    public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
        case unsupportedBits(Int)
        case unsupportedBlockSize(Int)

        public var description: String {
            switch self {
            case .unsupportedBits(let bits): "MatMulNBits takes 4 or 8 bits, not \(bits)"
            case .unsupportedBlockSize(let size):
                "MatMulNBits block_size \(size) is not supported; use 16, 32, 64, 128 or 256"
            }
        }
    }

    public init(bits: Int, blockSize: Int, isSymmetric: Bool) throws(ConfigurationError) {
        guard bits == 4 || bits == 8 else { throw .unsupportedBits(bits) }
        guard Self.blockSizes.contains(blockSize) else { throw .unsupportedBlockSize(blockSize) }
        self.bits = bits
        self.blockSize = blockSize
        self.isSymmetric = isSymmetric
    }

    /// The quantized weight in `MatMulNBits`' three inputs.
    public struct Result: Sendable, Equatable {
        public let k: Int
        public let n: Int
        public let blockCount: Int
        /// Row-major `[n, blockCount, blockSize · bits / 8]`.
        public let packed: [UInt8]
        /// `[n · blockCount]`, each exactly representable in the weight's type.
        public let scales: [Float]
        public let zeroPoints: [UInt8]?

        public var blobSize: Int { packed.count / max(1, n * blockCount) }
    }

    /// Quantizes the little-endian `[k, n]` matrix `weight` of F32 or F16 (the types
    /// onnxruntime's binding accepts).
    public func quantize(_ weight: UnsafeRawBufferPointer, type: ScalarType, k: Int, n: Int) throws(QuantCoreError) -> Result {
        guard type == .float32 || type == .float16 else { throw .unsupportedEncoding(type) }
        guard weight.count == k * n * type.byteWidth else {
            throw .sizeMismatch(expected: k * n * type.byteWidth, actual: weight.count)
        }
        var decoded = [Float](repeating: 0, count: k * n)
        try decoded.withUnsafeMutableBufferPointer { (values) throws(QuantCoreError) in
            try FloatConversion.decode(weight, from: type, into: values)
        }
        // Each column is quantized on its own: transposed to [n, k] (in tiles, so both sides
        // stay in cache), a column's blocks are contiguous and columns can go to all cores.
        var columnsFirst = [Float](repeating: 0, count: k * n)
        let tile = 64
        decoded.withUnsafeBufferPointer { source in
            columnsFirst.withUnsafeMutableBufferPointer { target in
                for rowStart in stride(from: 0, to: k, by: tile) {
                    for columnStart in stride(from: 0, to: n, by: tile) {
                        for row in rowStart..<min(k, rowStart + tile) {
                            for column in columnStart..<min(n, columnStart + tile) {
                                target[column * k + row] = source[row * n + column]
                            }
                        }
                    }
                }
            }
        }
        decoded = []
        let blocks = (k + blockSize - 1) / blockSize
        let blob = blockSize * bits / 8
        let maxCode = Float((1 << bits) - 1)
        let middle = UInt8(1 << (bits - 1))
        let zeroPointRow = (blocks * bits + 7) / 8
        var packed = [UInt8](repeating: 0, count: n * blocks * blob)
        var scales = [Float](repeating: 0, count: n * blocks)
        var zeroPoints = [UInt8](repeating: 0, count: isSymmetric ? 0 : n * zeroPointRow)
        let chunks = ParallelChunks.chunkCount(items: n, unitsPerItem: k)
        columnsFirst.withUnsafeBufferPointer { values in
            packed.withUnsafeMutableBufferPointer { packed in
                scales.withUnsafeMutableBufferPointer { scales in
                  zeroPoints.withUnsafeMutableBufferPointer { zeroPointsBuffer in
                    let zeroPointsTarget = zeroPointsBuffer.isEmpty ? nil : zeroPointsBuffer
                    nonisolated(unsafe) let (values, packed, scales, zeroPointsOut) = (values, packed, scales, zeroPointsTarget)
                    ParallelChunks.forEach(count: n, chunks: chunks) { _, columns in
                        var codes = [UInt8](repeating: 0, count: blocks * blockSize)
                        var blockZeroPoints = [UInt8](repeating: middle, count: zeroPointRow * 8 / bits)
                        for column in columns {
                            let values = values.baseAddress! + column * k
                            for block in 0..<blocks {
                                let rows = (block * blockSize)..<min(k, (block + 1) * blockSize)
                                var low = Float.greatestFiniteMagnitude, high = -Float.greatestFiniteMagnitude
                                for row in rows {
                                    let value = values[row]
                                    if value < low { low = value }
                                    if value > high { high = value }
                                }
                                let (scale, zeroPoint) = scaleAndZeroPoint(low: low, high: high, type: type)
                                scales[column * blocks + block] = scale
                                blockZeroPoints[block] = zeroPoint
                                // MLAS multiplies by the reciprocal of the scale as stored, in float.
                                let reciprocal = scale == 0 ? 0 : 1 / scale
                                for row in rows {
                                    let code = (values[row] * reciprocal + Float(zeroPoint)).rounded(.toNearestOrAwayFromZero)
                                    codes[row] = UInt8(min(max(code, 0), maxCode))
                                }
                            }
                            let out = column * blocks * blob
                            if bits == 8 {
                                for row in 0..<k { packed[out + row] = codes[row] }
                            } else {
                                // MLAS packs pairs of rows and, for an odd K, leaves the last byte's high nibble
                                // as the previous pair's second code when that pair fell in the same stretch of
                                // 2 · blockSize rows it works on (0 at the start of one).
                                let staleHigh: UInt8 = k % 2 == 1 && (k - 1) % (2 * blockSize) != 0 ? codes[k - 2] : 0
                                for row in stride(from: 0, to: k, by: 2) {
                                    let high = row + 1 < k ? codes[row + 1] : staleHigh
                                    packed[out + row / 2] = codes[row] & 0x0F | high << 4
                                }
                            }
                            if let zeroPointsOut {
                                let out = column * zeroPointRow
                                if bits == 8 {
                                    for block in 0..<blocks { zeroPointsOut[out + block] = blockZeroPoints[block] }
                                } else {
                                    for byte in 0..<zeroPointRow {
                                        zeroPointsOut[out + byte] = blockZeroPoints[2 * byte] & 0x0F | blockZeroPoints[2 * byte + 1] << 4
                                    }
                                }
                            }
                        }
                    }
                  }
                }
            }
        }
        return Result(k: k, n: n, blockCount: blocks, packed: packed, scales: scales, zeroPoints: isSymmetric ? nil : zeroPoints)
    }

    /// MLAS' `range2scale` (symmetric) and `range2scalezp`, for unsigned codes. The scale is
    /// rounded to the weight's type; an asymmetric zero point comes from the unrounded scale.
    private func scaleAndZeroPoint(low: Float, high: Float, type: ScalarType) -> (Float, UInt8) {
        let maxCode = Float((1 << bits) - 1)
        if isSymmetric {
            // The larger half of the range maps to the codes below the middle, which has one
            // more of them: hence the minus sign.
            let extreme = abs(high) > abs(low) ? high : low
            return (FloatConversion.rounded(-extreme / Float(1 << (bits - 1)), to: type), UInt8(1 << (bits - 1)))
        }
        let low = min(low, 0), high = max(high, 0)
        let scale = (high - low) / maxCode
        let zeroPoint = scale == 0 ? low : 0 - low / scale
        let code: UInt8 = zeroPoint < 0 ? 0 : zeroPoint > maxCode ? UInt8(maxCode) : UInt8(zeroPoint.rounded(.toNearestOrAwayFromZero))
        return (FloatConversion.rounded(scale, to: type), code)
    }
}
