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

/// A constexpr op that rebuilds one weight at load time, with its parameters by name. Joint
/// forms take a chain of them: earlier ops produce intermediate values (`outputs`) that later
/// ones bind by `references`; the last op produces the weight itself.
public struct ConstexprOp: Sendable, Equatable {
    /// Output `output` of op `op` of the same chain.
    public struct Reference: Sendable, Equatable {
        public var op: Int
        public var output: Int

        public init(op: Int, output: Int) {
            self.op = op
            self.output = output
        }
    }

    /// An intermediate output's element type and shape.
    public struct Output: Sendable, Equatable {
        public var dataType: MILBlobDataType
        public var shape: [Int]

        public init(_ dataType: MILBlobDataType, shape: [Int]) {
            self.dataType = dataType
            self.shape = shape
        }
    }

    public var type: String
    public var parameters: [String: MILTensor]
    public var references: [String: Reference]
    /// Empty for the op that produces the weight (it takes the replaced const's output).
    public var outputs: [Output]

    public init(type: String, parameters: [String: MILTensor], references: [String: Reference] = [:], outputs: [Output] = []) {
        self.type = type
        self.parameters = parameters
        self.references = references
        self.outputs = outputs
    }
}
