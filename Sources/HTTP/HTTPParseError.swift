/// Why a request was refused before it reached a handler. Each case maps to a status code
/// and a message the client can act on; after any of them the connection is closed, since
/// the framing of what follows can no longer be trusted.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status): \(reason)" }

    static func bad(_ reason: String) -> Self { .init(status: 400, reason) }
}
