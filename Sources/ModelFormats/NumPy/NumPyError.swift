/// Why a `.npy` or `.npz` file cannot be read: each names the array and what to fix.
public enum NumPyError: Error, Sendable, Equatable, CustomStringConvertible {
    case notNPY(array: String, reason: String)
    case unsupportedDType(array: String, descr: String)
    case truncated(array: String, expected: Int, actual: Int)
    case notNPZ(reason: String)
    case archive(ArchiveError)
    case duplicateArray(String)

    public var description: String {
        switch self {
        case .notNPY(let array, let reason):
            "array '\(array)' is not a NumPy .npy array: \(reason)"
        case .unsupportedDType(let array, let descr):
            "array '\(array)' has dtype '\(descr)'; quantd reads bool, int8–int64, uint8–uint64, float16, float32 and float64 arrays (object and string arrays are refused)"
        case .truncated(let array, let expected, let actual):
            "array '\(array)' holds \(actual) bytes of data where its header's shape and dtype need \(expected)"
        case .notNPZ(let reason):
            "not a NumPy .npz archive (np.savez / np.savez_compressed): \(reason)"
        case .archive(let error):
            "not a readable .npz archive: \(error)"
        case .duplicateArray(let name):
            "array '\(name)' appears more than once"
        }
    }
}
