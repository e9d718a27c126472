/// Why an uploaded ONNX model cannot be read or rewritten. Cases about the upload are HTTP 422
/// material and name the tensor, file and numbers involved; `inexpressible` is a compression
/// the chosen form cannot store in ONNX, which a config change avoids.
public enum ONNXError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(String)
    case nestedTooDeeply(limit: Int)
    case noGraph
    case unsupportedIRVersion(Int)
    case unsupportedOpset(Int?)
    case archive(ArchiveError)
    case noModelInArchive
    case severalModelsInArchive([String])
    case unsafeExternalLocation(tensor: String, location: String, reason: String)
    case externalFileMissing(tensor: String, location: String)
    case malformedExternalData(tensor: String, reason: String)
    case externalDataOutOfRange(tensor: String, location: String, offset: UInt64, length: UInt64, fileSize: Int)
    case sizeMismatch(tensor: String, expected: Int, actual: Int)
    case invalidShape(tensor: String, dims: [Int64])
    case segmentedTensor(String)
    case weightNotFound(String)
    case notReplaceable(String, reason: String)
    case nameTaken(String)
    case malformedReplacement(weight: String, reason: String)
    case opsetRaiseChangesOp(opType: String, from: Int, to: Int)
    case inexpressible(weight: String, reason: String)
    case tooLarge(String)
    case valueDefinedTwice(String)
    case nodesOutOfOrder(node: String, input: String)

    public var description: String {
        switch self {
        case .unreadable(let detail):
            "the upload is not a valid ONNX model (protobuf ModelProto): \(detail)"
        case .nestedTooDeeply(let limit):
            "the ONNX model nests messages (subgraphs, attributes) more than \(limit) deep; refusing it"
        case .noGraph:
            "the ONNX model has no graph"
        case .unsupportedIRVersion(let version):
            "ONNX IR version \(version) is not supported; export with IR version 7 to 10 (opset 13 to 21)"
        case .unsupportedOpset(let version?):
            "ONNX opset \(version) (default domain) is not supported; export with opset 13 to 21"
        case .unsupportedOpset(nil):
            "the ONNX model imports no default-domain (ai.onnx) opset; export it with opset 13 to 21"
        case .archive(let error):
            "the upload is not a readable zip or tar of an ONNX model: \(error)"
        case .noModelInArchive:
            "the archive holds no .onnx file; put the model and its external data files in it"
        case .severalModelsInArchive(let paths):
            "the archive holds several .onnx files (\(paths.joined(separator: ", "))); upload one model per archive"
        case .unsafeExternalLocation(let tensor, let location, let reason):
            "tensor '\(tensor)' keeps its data in '\(location)', which is not a safe relative path (\(reason)); external data must sit beside the model in the upload"
        case .externalFileMissing(let tensor, let location):
            "tensor '\(tensor)' keeps its data in '\(location)', which the upload does not hold; upload a zip or tar of the model with its external data files"
        case .malformedExternalData(let tensor, let reason):
            "tensor '\(tensor)' has malformed external_data: \(reason)"
        case .externalDataOutOfRange(let tensor, let location, let offset, let length, let fileSize):
            "tensor '\(tensor)' reads \(length) bytes at offset \(offset) of '\(location)', which holds only \(fileSize)"
        case .sizeMismatch(let tensor, let expected, let actual):
            "tensor '\(tensor)' holds \(actual) bytes but its shape and data type need \(expected)"
        case .invalidShape(let tensor, let dims):
            "tensor '\(tensor)' has dimensions \(dims), which are negative or too large to exist"
        case .segmentedTensor(let tensor):
            "tensor '\(tensor)' is split into segments, which quantd does not read; save the model without segments"
        case .weightNotFound(let name):
            "the model has no float initializer or Constant named '\(name)'"
        case .notReplaceable(let name, let reason):
            "weight '\(name)' cannot be replaced: \(reason)"
        case .nameTaken(let name):
            "the name '\(name)' is already used in the graph"
        case .malformedReplacement(let weight, let reason):
            "the replacement for '\(weight)' is malformed: \(reason)"
        case .opsetRaiseChangesOp(let opType, let from, let to):
            "the compressed form needs opset \(to), but the model's \(opType) nodes are written for opset \(from) and opset \(to) defines them differently; convert the model with onnx.version_converter to opset \(to) first, or choose a form the current opset holds"
        case .inexpressible(let weight, let reason):
            "weight '\(weight)' cannot be stored in this form in ONNX: \(reason)"
        case .valueDefinedTwice(let name):
            "the ONNX graph defines '\(name)' twice: as a node's output and as a graph input, an initializer or another node's output; each value must have one definition"
        case .nodesOutOfOrder(let node, let input):
            "node '\(node)' reads '\(input)' before the node that computes it; save the model with its nodes in topological order (onnx.checker requires it)"
        case .tooLarge(let detail):
            "the ONNX model is too large to write: \(detail)"
        }
    }
}
