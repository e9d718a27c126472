/// Why a model cannot be run: what the API turns into a 422 the user can act on.
public enum ExecutionError: Error, Sendable, Equatable {
    /// The model uses an op the executor has no kernel for: never guessed at.
    case unsupportedOperation(name: String, type: String)
    /// The op is known but used in a way the executor does not implement (an attribute value,
    /// an operand's type or rank).
    case unsupportedUse(name: String, type: String, reason: String)
    /// The graph reads a value nothing produces, or is otherwise not runnable as written.
    case malformedGraph(String)
    /// An input the run was given does not fit the model.
    case invalidInput(name: String, reason: String)
    /// An op's operands do not fit together at run time (shapes that do not broadcast, say).
    case shapeMismatch(name: String, type: String, reason: String)

    public var message: String {
        switch self {
        case .unsupportedOperation(let name, let type):
            "op '\(name)' of type '\(type)' is not supported by quantd's executor"
        case .unsupportedUse(let name, let type, let reason):
            "op '\(name)' of type '\(type)' is used in a way quantd's executor does not support: \(reason)"
        case .malformedGraph(let reason):
            "the model's graph cannot be run: \(reason)"
        case .invalidInput(let name, let reason):
            "input '\(name)': \(reason)"
        case .shapeMismatch(let name, let type, let reason):
            "op '\(name)' of type '\(type)': \(reason)"
        }
    }
}
