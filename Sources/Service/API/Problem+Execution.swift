import Execution

extension Problem {
    /// A model the executor cannot run, or inputs that do not fit it: 422 saying which op or
    /// input, and what the model expects.
    init(_ error: ExecutionError) {
        switch error {
        case .unsupportedOperation(let name, let type), .unsupportedUse(let name, let type, _):
            self = Problem(422, "unsupported-operation", "The model uses an operation quantd cannot run", error.message,
                           extensions: ["op_name": name, "op_type": type])
        case .invalidInput(let name, _):
            self = Problem(422, "input-mismatch", "The samples do not fit the model's inputs", error.message,
                           extensions: ["input": name])
        case .malformedGraph, .shapeMismatch:
            self = .invalidModel(error.message)
        }
    }

    static func notRunnable(_ detail: String) -> Problem {
        Problem(422, "model-not-runnable", "The model cannot be run", detail)
    }
}
