/// What went wrong talking to PostgreSQL, split the way callers must react: the database being
/// unreachable is a 503 and a retry later; a statement it refused is a bug or a conflict.
public enum PostgresError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No connection could be made, or the one in use broke (server restart, network).
    case unavailable(String)
    /// The server ran the statement and refused it; `sqlState` is its five-character code.
    case statementFailed(sqlState: String, message: String)
    /// Every pooled connection stayed busy for the whole checkout timeout.
    case poolExhausted(seconds: Double)

    public var description: String {
        switch self {
        case .unavailable(let why): "PostgreSQL is unavailable: \(why)"
        case .statementFailed(let state, let message): "PostgreSQL refused a statement (\(state)): \(message)"
        case .poolExhausted(let seconds): "no PostgreSQL connection became free within \(seconds) s"
        }
    }

    /// The statement failed because a unique constraint already holds the row (`23505`).
    public var isUniqueViolation: Bool {
        if case .statementFailed("23505", _) = self { return true }
        return false
    }

    /// Whether the failure says nothing about the statement, only that the server could not be
    /// reached (including the SQLSTATE classes a shutting-down or restarting server answers with).
    public var isUnavailable: Bool {
        switch self {
        case .unavailable, .poolExhausted: return true
        case .statementFailed(let state, _):
            // 08: connection exception; 57P01–57P03: admin/crash shutdown, cannot connect now.
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        }
    }
}
