/// A constant the graph reads: a weight, or a small immediate (a shape, axes, a scalar).
public struct ConstantTensor: Sendable, Equatable {
    public enum Elements: Sendable, Equatable {
        case float32([Float])
        case int64([Int64])
        case bool([Bool])
    }

    public let shape: [Int]
    public let elements: Elements

    public init(shape: [Int], elements: Elements) {
        self.shape = shape
        self.elements = elements
    }

    public var elementType: ElementType {
        switch elements {
        case .float32: .float32
        case .int64: .int64
        case .bool: .bool
        }
    }
}
