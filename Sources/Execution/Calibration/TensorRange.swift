/// The calibrated range of one activation tensor.
public struct TensorRange: Sendable, Equatable {
    public var min: Float
    public var max: Float

    public init(min: Float, max: Float) {
        self.min = min
        self.max = max
    }

    /// The smallest range holding both.
    public func union(_ other: TensorRange) -> TensorRange {
        TensorRange(min: Swift.min(min, other.min), max: Swift.max(max, other.max))
    }
}
