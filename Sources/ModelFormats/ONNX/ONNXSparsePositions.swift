/// The positions a sparse initializer stores: row-major linear indices of the elements a
/// pruning mask keeps, in the narrowest signed type that holds every position of the tensor
/// (onnxruntime 1.23 reads INT8, INT16, INT32 and INT64 indices and refuses unsigned ones).
enum ONNXSparsePositions {
    /// `mask` is LSB-first, bit `i % 8` of byte `i / 8` set when element `i` is kept.
    static func forEachKept(_ mask: [UInt8], count: Int, _ body: (Int) -> Void) {
        for (byte, bits) in mask.enumerated() {
            var pending = bits
            while pending != 0 {
                let position = byte * 8 + pending.trailingZeroBitCount
                if position < count { body(position) }
                pending &= pending - 1
            }
        }
    }

    /// Chosen by the tensor's size, not the largest kept position, so the type says what the
    /// tensor needs whatever was pruned.
    static func tensor(_ positions: [Int], count: Int, name: String) -> ONNXTensor {
        let largest = max(count - 1, 0)
        let type: ONNXDataType, width: Int
        switch largest {
        case ...Int(Int8.max): (type, width) = (.int8, 1)
        case ...Int(Int16.max): (type, width) = (.int16, 2)
        case ...Int(Int32.max): (type, width) = (.int32, 4)
        default: (type, width) = (.int64, 8)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(positions.count * width)
        for position in positions {
            withUnsafeBytes(of: Int64(position).littleEndian) { bytes += $0.prefix(width) }
        }
        return ONNXTensor(name: name, dataType: type, dims: [positions.count], bytes: bytes)
    }
}
