import QuantCore

/// A weight the numerics cannot compress (and that is not one to leave alone): the model is
/// at fault, so it names the weight.
public struct CompressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var weight: String
    public var cause: QuantCoreError

    public init(weight: String, _ cause: QuantCoreError) {
        self.weight = weight
        self.cause = cause
    }

    public var description: String { "weight '\(weight)' cannot be compressed: \(cause)" }
}
