/// A writer used wrongly: the entries cannot form a valid file, or the supplied data does not
/// match them. These are programming errors in the caller, not problems with a user's model.
public enum SafetensorsWriterError: Error, Equatable, Sendable, CustomStringConvertible {
    case reservedTensorName
    case duplicateTensorName(String)
    case negativeDimension(tensor: String, shape: [Int])
    case tensorTooLarge(tensor: String, shape: [Int])
    case tensorDataOverrun(tensor: String, declared: Int, supplied: Int)
    case tensorDataShort(tensor: String, declared: Int, supplied: Int)

    public var description: String {
        switch self {
        case .reservedTensorName:
            "'__metadata__' is reserved by safetensors and cannot name a tensor"
        case .duplicateTensorName(let name):
            "tensor '\(name)' is listed more than once"
        case .negativeDimension(let tensor, let shape):
            "tensor '\(tensor)': shape \(shape) has a negative dimension"
        case .tensorTooLarge(let tensor, let shape):
            "tensor '\(tensor)': shape \(shape) has more bytes than a file can address"
        case .tensorDataOverrun(let tensor, let declared, let supplied):
            "tensor '\(tensor)': supplied at least \(supplied) bytes but its shape and dtype declare \(declared)"
        case .tensorDataShort(let tensor, let declared, let supplied):
            "tensor '\(tensor)': supplied \(supplied) bytes but its shape and dtype declare \(declared)"
        }
    }
}
