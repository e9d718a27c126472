import Execution
import QuantCore

extension ONNXDataType {
    /// The type the executor computes this one in: every float type quantd decodes as float32,
    /// every integer type as int64. Nil for strings, complex numbers and the float8/float4
    /// variants QuantCore has no decoder for.
    var executionElementType: ElementType? {
        switch self {
        case .bool: .bool
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .int4, .uint4: .int64
        default: floatScalarType == nil ? nil : .float32
        }
    }

    /// The QuantCore type that decodes this float type's little-endian bytes.
    var floatScalarType: ScalarType? {
        switch self {
        case .float: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .double: .float64
        case .float8E4M3FN: .float8E4M3
        case .float8E5M2: .float8E5M2
        default: nil
        }
    }

    /// The values a QuantizeLinear output of this type saturates to; nil for non-integer types.
    var integerRange: ClosedRange<Int>? {
        switch self {
        case .int4: -8...7
        case .uint4: 0...15
        case .int8: Int(Int8.min)...Int(Int8.max)
        case .uint8: 0...Int(UInt8.max)
        case .int16: Int(Int16.min)...Int(Int16.max)
        case .uint16: 0...Int(UInt16.max)
        case .int32: Int(Int32.min)...Int(Int32.max)
        default: nil
        }
    }
}
