/// A value given to or returned by the executor: a shape and its elements, row-major. Values
/// (not views): a tensor the executor hands out stays valid after the run.
public struct Tensor: Sendable, Equatable {
    /// The same three element types a constant holds.
    public typealias Elements = ConstantTensor.Elements

    public let shape: [Int]
    public let elements: Elements

    /// `elements.count` must be the product of `shape`.
    public init(shape: [Int], elements: Elements) {
        let count = Self.elementCount(elements)
        precondition(count == shape.reduce(1, *), "a tensor of shape \(shape) needs \(shape.reduce(1, *)) elements, not \(count)")
        self.shape = shape
        self.elements = elements
    }

    public init(shape: [Int], floats: [Float]) {
        self.init(shape: shape, elements: .float32(floats))
    }

    public init(shape: [Int], int64s: [Int64]) {
        self.init(shape: shape, elements: .int64(int64s))
    }

    public init(shape: [Int], bools: [Bool]) {
        self.init(shape: shape, elements: .bool(bools))
    }

    public init(_ constant: ConstantTensor) {
        self.init(shape: constant.shape, elements: constant.elements)
    }

    public var elementType: ElementType {
        switch elements {
        case .float32: .float32
        case .int64: .int64
        case .bool: .bool
        }
    }

    public var count: Int { shape.reduce(1, *) }

    /// The elements when they are float32, else nil.
    public var floats: [Float]? {
        if case .float32(let values) = elements { values } else { nil }
    }

    public var int64s: [Int64]? {
        if case .int64(let values) = elements { values } else { nil }
    }

    public var bools: [Bool]? {
        if case .bool(let values) = elements { values } else { nil }
    }
}

extension Tensor {
    static func elementCount(_ elements: Elements) -> Int {
        switch elements {
        case .float32(let values): values.count
        case .int64(let values): values.count
        case .bool(let values): values.count
        }
    }
}
