import Execution

/// Why an upload is not a usable sample dataset; each message says what to fix.
public enum DatasetFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Neither an .npz nor a safetensors file (HTTP 415).
    case unsupportedFormat(detected: String)
    case numpy(NumPyError)
    case safetensors(SafetensorsError)
    /// A safetensors dtype the executor has no reading for (bfloat16, float8).
    case unsupportedElementType(array: String, dtype: String)
    case noArrays
    case scalarArray(array: String)
    case noSamples(array: String)
    case unequalSampleCounts(array: String, samples: Int, otherArray: String, otherSamples: Int)
    /// NaN or an infinity, once read as the float32 the model computes in.
    case nonFinite(array: String, sample: Int)

    /// Whether the file is of a kind quantd does not read at all, rather than a broken one.
    public var isUnsupportedFormat: Bool {
        if case .unsupportedFormat = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .unsupportedFormat(let detected):
            "the upload is not a sample dataset (detected: \(detected)); send a NumPy .npz (np.savez or np.savez_compressed, "
                + "one array per model input) or a safetensors file"
        case .numpy(let error):
            "\(error)"
        case .safetensors(let error):
            "not a readable safetensors file: \(error)"
        case .unsupportedElementType(let array, let dtype):
            "array '\(array)' has dtype \(dtype); datasets hold " + DatasetElementType.allCases.map(\.rawValue).joined(separator: ", ")
                + " arrays (convert it, e.g. to float32)"
        case .noArrays:
            "the file holds no arrays; save one array per model input, samples along the first axis"
        case .scalarArray(let array):
            "array '\(array)' is a scalar; each array holds samples along its first axis"
        case .noSamples(let array):
            "array '\(array)' holds 0 samples (its first axis is empty); a dataset needs at least one"
        case .unequalSampleCounts(let array, let samples, let otherArray, let otherSamples):
            "array '\(array)' holds \(samples) samples but array '\(otherArray)' holds \(otherSamples); "
                + "every array's first axis counts the same samples"
        case .nonFinite(let array, let sample):
            "array '\(array)' holds NaN or an infinity (as float32) in sample \(sample); replace or drop that sample"
        }
    }
}
