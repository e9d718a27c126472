/// A zip writer used wrongly or asked for what it does not write. Programming errors in the
/// caller, not problems with a user's model.
public enum ZipWriterError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicateEntry(String)
    case fileNameEndsWithSlash(String)
    case needsZip64(reason: String)
    case notFinished

    public var description: String {
        switch self {
        case .duplicateEntry(let name): "entry '\(name)' was added twice"
        case .fileNameEndsWithSlash(let name): "file name '\(name)' ends with '/', which marks a directory"
        case .needsZip64(let reason): "refusing to write a ZIP64 archive: \(reason)"
        case .notFinished: "the zip was not finished; call finish() before the output is closed"
        }
    }
}
