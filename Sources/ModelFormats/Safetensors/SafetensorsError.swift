import QuantCore

/// Why a file is not a valid safetensors file. Every case is a problem with the file's
/// content (HTTP 422 material); the message names the tensor and the numbers involved so
/// the user can tell which export step went wrong.
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    // File framing
    case fileTooSmall(byteCount: Int)
    case headerLengthExceedsLimit(headerLength: UInt64, limit: Int)
    case headerLengthExceedsFile(headerLength: UInt64, fileSize: Int)
    case headerBytesMissing(required: Int, provided: Int)

    // Header JSON
    case invalidHeaderJSON(fileOffset: Int, reason: String)
    case headerNotAnObject(found: String)
    case duplicateTensorName(String)
    case duplicateMetadataSection
    case metadataNotAnObject(found: String)
    case duplicateMetadataKey(String)
    case metadataValueNotString(key: String, found: String)

    // One tensor entry
    case tensorEntryNotAnObject(tensor: String, found: String)
    case missingTensorField(tensor: String, field: String)
    case unknownTensorField(tensor: String, field: String)
    case duplicateTensorField(tensor: String, field: String)
    case tensorFieldWrongType(tensor: String, field: String, expected: String, found: String)
    case unknownDType(tensor: String, dtype: String)
    case negativeDimension(tensor: String, index: Int, literal: String)
    case nonIntegerDimension(tensor: String, index: Int, literal: String)
    case elementCountOverflow(tensor: String, shape: [Int])
    case dataOffsetsNotAPair(tensor: String, count: Int)
    case invalidDataOffset(tensor: String, literal: String)
    case dataOffsetsReversed(tensor: String, begin: Int, end: Int)
    case byteCountMismatch(tensor: String, shape: [Int], dtype: ScalarType, required: Int, spanned: Int)
    case dataOffsetsBeyondFile(tensor: String, end: Int, dataByteCount: Int)

    // Layout of the data buffer as a whole
    case overlappingTensors(first: String, firstRange: Range<Int>, second: String, secondRange: Range<Int>)
    case uncoveredBytes(range: Range<Int>, after: String?, before: String?)

    // Lookup
    case tensorNotFound(String)

    public var description: String {
        switch self {
        case .fileTooSmall(let byteCount):
            return "file is \(byteCount) bytes; a safetensors file needs at least 8 bytes for its header length"
        case .headerLengthExceedsLimit(let headerLength, let limit):
            return "header declares \(headerLength) bytes of JSON, more than the limit of \(limit) bytes"
        case .headerLengthExceedsFile(let headerLength, let fileSize):
            return "header declares \(headerLength) bytes of JSON but the file is only \(fileSize) bytes"
                + "; the file is truncated or not safetensors"
        case .headerBytesMissing(let required, let provided):
            return "parsing the header needs the first \(required) bytes of the file but only \(provided) were given"
        case .invalidHeaderJSON(let fileOffset, let reason):
            return "header JSON is invalid at file byte \(fileOffset): \(reason)"
        case .headerNotAnObject(let found):
            return "header must be a JSON object starting with '{' but found \(found)"
        case .duplicateTensorName(let name):
            return "tensor \(quoted(name)) is listed more than once in the header"
        case .duplicateMetadataSection:
            return "header contains '__metadata__' more than once"
        case .metadataNotAnObject(let found):
            return "'__metadata__' must be an object of strings but is \(found)"
        case .duplicateMetadataKey(let key):
            return "'__metadata__' key \(quoted(key)) appears more than once"
        case .metadataValueNotString(let key, let found):
            return "'__metadata__' value for \(quoted(key)) must be a string but is \(found)"
        case .tensorEntryNotAnObject(let tensor, let found):
            return "tensor \(quoted(tensor)): entry must be an object with dtype, shape and data_offsets but is \(found)"
        case .missingTensorField(let tensor, let field):
            return "tensor \(quoted(tensor)): missing '\(field)'"
        case .unknownTensorField(let tensor, let field):
            return "tensor \(quoted(tensor)): unknown field \(quoted(field)); only dtype, shape and data_offsets are allowed"
        case .duplicateTensorField(let tensor, let field):
            return "tensor \(quoted(tensor)): '\(field)' appears more than once"
        case .tensorFieldWrongType(let tensor, let field, let expected, let found):
            return "tensor \(quoted(tensor)): '\(field)' must be \(expected) but is \(found)"
        case .unknownDType(let tensor, let dtype):
            let known = ScalarType.allCases.map(\.rawValue).joined(separator: ", ")
            return "tensor \(quoted(tensor)): unsupported dtype \(quoted(dtype)); supported: \(known)"
        case .negativeDimension(let tensor, let index, let literal):
            return "tensor \(quoted(tensor)): shape dimension \(index) is \(literal); dimensions cannot be negative"
        case .nonIntegerDimension(let tensor, let index, let literal):
            return "tensor \(quoted(tensor)): shape dimension \(index) is \(literal); dimensions must be integers in 0...\(Int.max)"
        case .elementCountOverflow(let tensor, let shape):
            return "tensor \(quoted(tensor)): shape \(shape) has more elements or bytes than can be addressed"
        case .dataOffsetsNotAPair(let tensor, let count):
            return "tensor \(quoted(tensor)): data_offsets must be [begin, end] but has \(count) elements"
        case .invalidDataOffset(let tensor, let literal):
            return "tensor \(quoted(tensor)): data offset \(literal) must be an integer in 0...\(Int.max)"
        case .dataOffsetsReversed(let tensor, let begin, let end):
            return "tensor \(quoted(tensor)): data_offsets [\(begin), \(end)] end before they begin"
        case .byteCountMismatch(let tensor, let shape, let dtype, let required, let spanned):
            return "tensor \(quoted(tensor)): shape \(shape) × \(dtype.rawValue) needs \(required) bytes"
                + " but data_offsets span \(spanned)"
        case .dataOffsetsBeyondFile(let tensor, let end, let dataByteCount):
            return "tensor \(quoted(tensor)): data ends at byte \(end) of the data buffer but the buffer has only"
                + " \(dataByteCount) bytes; the file is truncated or the offsets are wrong"
        case .overlappingTensors(let first, let firstRange, let second, let secondRange):
            return "tensors \(quoted(first)) (bytes \(describe(firstRange))) and \(quoted(second))"
                + " (bytes \(describe(secondRange))) overlap in the data buffer"
        case .uncoveredBytes(let range, let after, let before):
            let position = switch (after, before) {
            case (let after?, let before?): "between tensors \(quoted(after)) and \(quoted(before))"
            case (nil, let before?): "before the first tensor \(quoted(before))"
            case (let after?, nil): "after the last tensor \(quoted(after))"
            case (nil, nil): "in a file that declares no tensors"
            }
            return "data buffer bytes \(describe(range)) \(position) belong to no tensor;"
                + " safetensors requires the data buffer to be fully covered"
        case .tensorNotFound(let name):
            return "no tensor named \(quoted(name)) in the file"
        }
    }
}

/// Names come from user files; show them quoted so empty or space-padded names stay visible.
private func quoted(_ name: String) -> String {
    "'\(name)'"
}

private func describe(_ range: Range<Int>) -> String {
    "\(range.lowerBound)..<\(range.upperBound)"
}
