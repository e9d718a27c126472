/// What `ONNXRewrite.write` produced.
public enum ONNXArtifactKind: Sendable, Equatable {
    /// A bare `.onnx` file.
    case model
    /// A zip of the `.onnx` file and its external data file.
    case zip

    public var fileExtension: String {
        switch self {
        case .model: "onnx"
        case .zip: "zip"
        }
    }
}
