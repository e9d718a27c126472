#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An operating-system failure while reading or writing a model file. Unlike
/// `SafetensorsError` this is not the user's fault (HTTP 500 rather than 422), except when the
/// path itself is wrong.
public enum FileAccessError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `call` failed with `errno`; `path` is nil when writing to a caller's file descriptor.
    case systemCall(_ call: String, path: String?, errno: Int32)
    case notARegularFile(path: String)

    public var description: String {
        switch self {
        case .systemCall(let call, let path, let code):
            let target = path.map { " on '\($0)'" } ?? ""
            return "\(call)\(target) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .notARegularFile(let path):
            return "'\(path)' is not a regular file"
        }
    }
}
