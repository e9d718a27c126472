/// A config a weight cannot take, found before the job runs: coremltools raises on these
/// instead of skipping the weight. `field` names the config key to change.
public struct ConfigRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var weight: String
    public var shape: [Int]
    public var field: String
    public var message: String

    public init(weight: String, shape: [Int], field: String, message: String) {
        self.weight = weight
        self.shape = shape
        self.field = field
        self.message = message
    }

    public var description: String { "weight '\(weight)' (shape \(shape)): \(message)" }
}
