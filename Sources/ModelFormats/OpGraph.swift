/// A model's operations with the shapes of everything they read and write, and for every
/// constant tensor how it is stored: what cost estimation needs, whatever the file format.
///
/// Constants are weights (float consts, possibly behind constexpr decompression ops) and small
/// immediates (strides, flags). A constant produced by a constexpr chain is one `Constant`
/// whose `storedBytes` sums everything the chain reads, so a compressed weight costs what its
/// file form costs.
public struct OpGraph: Sendable {
    public struct Tensor: Sendable, Equatable {
        public let name: String
        /// nil when a dimension is not a constant (flexible shapes).
        public let shape: [Int]?
        public let elementBits: Int
        public let isFloat: Bool

        public init(name: String, shape: [Int]?, elementBits: Int, isFloat: Bool) {
            self.name = name
            self.shape = shape
            self.elementBits = elementBits
            self.isFloat = isFloat
        }

        public var elementCount: Int? { shape?.reduce(1, *) }
    }

    public struct Constant: Sendable, Equatable {
        /// The decompressed tensor consumers see.
        public let tensor: Tensor
        /// The const op's name (for a chain, the first float const it reads): the name
        /// `op_name_configs` and the job report use.
        public let weightName: String
        public let form: StoredWeightForm
        public let storedBytes: Int
        /// Small integer or boolean immediates (strides, transpose flags), else nil.
        public let integers: [Int]?

        public init(tensor: Tensor, weightName: String, form: StoredWeightForm, storedBytes: Int, integers: [Int]? = nil) {
            self.tensor = tensor
            self.weightName = weightName
            self.form = form
            self.storedBytes = storedBytes
            self.integers = integers
        }
    }

    public enum Value: Sendable, Equatable {
        case activation(Tensor)
        case constant(Constant)

        public var tensor: Tensor {
            switch self {
            case .activation(let t): t
            case .constant(let c): c.tensor
            }
        }
    }

    public struct Operation: Sendable, Equatable {
        public let type: String
        public let name: String
        /// Arguments by parameter name, in the order the format lists them.
        public let inputs: [(parameter: String, values: [Value])]
        public let outputs: [Tensor]

        public init(type: String, name: String, inputs: [(parameter: String, values: [Value])], outputs: [Tensor]) {
            self.type = type
            self.name = name
            self.inputs = inputs
            self.outputs = outputs
        }

        public func input(_ parameter: String) -> Value? {
            inputs.first { $0.parameter == parameter }?.values.first
        }

        public static func == (a: Operation, b: Operation) -> Bool {
            a.type == b.type && a.name == b.name && a.outputs == b.outputs
                && a.inputs.map(\.parameter) == b.inputs.map(\.parameter) && a.inputs.map(\.values) == b.inputs.map(\.values)
        }
    }

    /// The compute operations in program order (consts and constexpr ops are folded into the
    /// `Constant` values they produce).
    public let operations: [Operation]
    /// The graph's inputs.
    public let inputs: [Tensor]

    public init(operations: [Operation], inputs: [Tensor]) {
        self.operations = operations
        self.inputs = inputs
    }
}

/// How a constant tensor is stored in the file.
public struct StoredWeightForm: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case dense, linear, palettized
    }

    public let kind: Kind
    /// Bits per stored element: the float width when dense, the code or index width otherwise.
    public let bits: Int
    /// Linear scales per block (more than one per output channel along the input axis).
    public let perBlock: Bool
    /// Palettized with more than one look-up table.
    public let grouped: Bool
    /// Non-zero fraction when stored sparse (mask + non-zeros), else 1.
    public let density: Double

    public init(kind: Kind, bits: Int, perBlock: Bool = false, grouped: Bool = false, density: Double = 1) {
        self.kind = kind
        self.bits = bits
        self.perBlock = perBlock
        self.grouped = grouped
        self.density = density
    }

    public static func dense(bits: Int) -> StoredWeightForm { StoredWeightForm(kind: .dense, bits: bits) }

    public var isCompressed: Bool { kind != .dense || density < 1 }

    public var description: String {
        var parts: [String] = []
        switch kind {
        case .dense: parts.append("fp\(bits)")
        case .linear: parts.append("int\(bits)" + (perBlock ? " per-block" : ""))
        case .palettized: parts.append("lut\(bits)" + (grouped ? " grouped" : ""))
        }
        if density < 1 { parts.append("sparse \(Int((density * 100).rounded()))%") }
        return parts.joined(separator: " ")
    }
}
