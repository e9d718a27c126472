import Execution

/// The dtypes a `.npy` header may name that quantd reads — the dataset element types — with
/// their `descr` spelling and sizes.
extension DatasetElementType {
    public var byteCount: Int {
        switch self {
        case .bool, .int8, .uint8: 1
        case .int16, .uint16, .float16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        }
    }

    /// The kind letter and size of `descr` ('<f4'), without the byte order.
    var kindAndSize: String {
        switch self {
        case .bool: "b1"
        case .int8: "i1"
        case .int16: "i2"
        case .int32: "i4"
        case .int64: "i8"
        case .uint8: "u1"
        case .uint16: "u2"
        case .uint32: "u4"
        case .uint64: "u8"
        case .float16: "f2"
        case .float32: "f4"
        case .float64: "f8"
        }
    }

    /// From a `descr` such as '<f4', '|u1', '>i8'; the second value is true for big-endian data.
    static func parse(descr: String) -> (DatasetElementType, bigEndian: Bool)? {
        guard let order = descr.first, "<>|=".contains(order) else { return nil }
        let rest = String(descr.dropFirst())
        guard let type = allCases.first(where: { $0.kindAndSize == rest }) else { return nil }
        // '=' is the writer's native order; every machine that writes .npz today is little-endian.
        return (type, order == ">" && type.byteCount > 1)
    }
}
