import Execution

/// Row-major little-endian elements (a safetensors tensor's bytes) widened to what the
/// executor computes in: floats to float32, integers to int64.
enum LittleEndianArray {
    static func widen(_ data: UnsafeRawBufferPointer, _ type: DatasetElementType, shape: [Int]) -> ConstantTensor {
        let elements: ConstantTensor.Elements = switch type {
        case .bool: .bool(data.map { $0 != 0 })
        case .int8: .int64(read(data, Int8.self).map(Int64.init))
        case .int16: .int64(read(data, Int16.self).map(Int64.init))
        case .int32: .int64(read(data, Int32.self).map(Int64.init))
        case .int64: .int64(read(data, Int64.self))
        case .uint8: .int64(data.map(Int64.init))
        case .uint16: .int64(read(data, UInt16.self).map(Int64.init))
        case .uint32: .int64(read(data, UInt32.self).map(Int64.init))
        // As NPYArray reads them: values past Int64.max wrap, and no index a model reads gets there.
        case .uint64: .int64(read(data, UInt64.self).map { Int64(bitPattern: $0) })
        case .float16: .float32(read(data, UInt16.self).map { Float(Float16(bitPattern: $0)) })
        case .float32: .float32(read(data, UInt32.self).map { Float(bitPattern: $0) })
        case .float64: .float32(read(data, UInt64.self).map { Float(Double(bitPattern: $0)) })
        }
        return ConstantTensor(shape: shape, elements: elements)
    }

    private static func read<T: FixedWidthInteger>(_ data: UnsafeRawBufferPointer, _: T.Type) -> [T] {
        let size = MemoryLayout<T>.size
        return (0..<(data.count / size)).map { T(littleEndian: data.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
    }
}
