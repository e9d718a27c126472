/// Why the service cannot start, in one line that says what to set or fix: printed as it is by
/// `quantd serve`, never as a dump of a type.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
