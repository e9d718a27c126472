/// Why a dataset cannot feed a model: each names the model input and says what the model
/// expects, so the user knows which array to re-export and how.
public enum DatasetMismatch: Error, Sendable, Equatable {
    /// No array for the input: none has its name (and the single-input, single-array rule
    /// does not apply).
    case missingArray(input: String, expected: String, available: [String])
    /// The array exists but its element type, rank or a fixed dimension does not fit.
    case arrayDoesNotFit(input: String, array: String, expected: String, found: String, reason: String)
    /// A scalar input has no batch axis to put samples on.
    case scalarInput(input: String)
    /// Two inputs fix their batch dimensions to different sizes: no number of samples per run
    /// fits both.
    case conflictingBatchSizes(input: String, size: Int, otherInput: String, otherSize: Int)
    /// An image input the model declares with other than [batch, channels, height, width].
    case malformedImageInput(input: String, shape: String)

    public var message: String {
        switch self {
        case .missingArray(let input, let expected, let available):
            "input '\(input)': the model expects \(expected); the dataset has no array named '\(input)' (its arrays: "
                + available.map { "'\($0)'" }.joined(separator: ", ") + "); name each array after the model input it feeds"
        case .arrayDoesNotFit(let input, let array, let expected, let found, let reason):
            "input '\(input)': the model expects \(expected); the dataset's array '\(array)' is \(found): \(reason)"
        case .scalarInput(let input):
            "input '\(input)': the model's input is a scalar, with no batch axis to feed samples along"
        case .conflictingBatchSizes(let input, let size, let otherInput, let otherSize):
            "input '\(input)' takes batches of exactly \(size) but input '\(otherInput)' of exactly \(otherSize): "
                + "the model cannot be fed samples in batches that fit both"
        case .malformedImageInput(let input, let shape):
            "input '\(input)': the model declares an image input of shape \(shape), not [batch, channels, height, width]"
        }
    }
}
