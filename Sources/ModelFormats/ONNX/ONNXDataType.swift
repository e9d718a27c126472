import QuantCore

/// `TensorProto.DataType`: the element types an ONNX tensor can hold, by their number on
/// the wire.
public enum ONNXDataType: Int32, Sendable, CaseIterable {
    case float = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case double = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8E4M3FN = 17
    case float8E4M3FNUZ = 18
    case float8E5M2 = 19
    case float8E5M2FNUZ = 20
    case uint4 = 21
    case int4 = 22
    case float4E2M1 = 23

    /// Bits per element; nil for strings, whose size is not fixed.
    public var bitWidth: Int? {
        switch self {
        case .string: nil
        case .uint4, .int4, .float4E2M1: 4
        case .uint8, .int8, .bool, .float8E4M3FN, .float8E4M3FNUZ, .float8E5M2, .float8E5M2FNUZ: 8
        case .uint16, .int16, .float16, .bfloat16: 16
        case .int32, .float, .uint32: 32
        case .int64, .double, .uint64, .complex64: 64
        case .complex128: 128
        }
    }

    /// Bytes `count` elements take in `raw_data`: 4-bit types pack two per byte, low nibble first.
    public func byteCount(elements count: Int) -> Int? {
        bitWidth.map { (count * $0 + 7) / 8 }
    }

    /// The weight types quantd compresses.
    public var weightScalarType: ScalarType? {
        switch self {
        case .float: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        default: nil
        }
    }

    public init?(_ type: ScalarType) {
        switch type {
        case .float64: self = .double
        case .float32: self = .float
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        case .float8E4M3: self = .float8E4M3FN
        case .float8E5M2: self = .float8E5M2
        case .int64: self = .int64
        case .int32: self = .int32
        case .int16: self = .int16
        case .int8: self = .int8
        case .uint64: self = .uint64
        case .uint32: self = .uint32
        case .uint16: self = .uint16
        case .uint8: self = .uint8
        case .bool: self = .bool
        }
    }
}
