/// A constant tensor parameter of a MIL op as quantd writes it: its element type, shape and
/// either bytes for the weight file or a small immediate value.
public struct MILTensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        /// Elements for a blob of `weight.bin`; sub-byte types hold one code per byte, packed
        /// when written.
        case blob([UInt8])
        /// Int32 values, written inline (axes, small shapes).
        case int32([Int32])
        /// UInt32 values, written inline as little-endian bytes, as coremltools writes shapes.
        case uint32([UInt32])
    }

    public var dataType: MILBlobDataType
    public var shape: [Int]
    public var storage: Storage

    public init(_ dataType: MILBlobDataType, shape: [Int], storage: Storage) {
        self.dataType = dataType
        self.shape = shape
        self.storage = storage
    }
}

/// A constexpr op that rebuilds one weight at load time, with its parameters by name.
public struct ConstexprOp: Sendable, Equatable {
    public var type: String
    public var parameters: [String: MILTensor]

    public init(type: String, parameters: [String: MILTensor]) {
        self.type = type
        self.parameters = parameters
    }
}
