import Foundation
import Glibc
import ModelFormats

/// The format of a stored model, decided once from its content when it is uploaded (and
/// stored with it); the rest of its life — preflight, jobs, estimates — goes through the
/// adapter this value makes, never through a format `if`.
enum StoredModelFormat: String, Sendable, CaseIterable {
    case safetensors
    case mlpackage
    case onnx

    /// The format a stored model was recorded with.
    init(stored model: StoredModel) throws {
        guard let format = StoredModelFormat(rawValue: model.format) else {
            throw Problem.gone("model \(model.id) is stored in a format this server no longer reads (\(model.format)); upload it again")
        }
        self = format
    }

    /// Detects the format of the file at `path`: safetensors by its header, a zip or tar by
    /// what it holds (an `.onnx` file, or an `.mlpackage`), anything else tried as a bare ONNX
    /// protobuf (which has no magic number).
    static func detect(path: String, size: Int) throws -> StoredModelFormat {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Problem.storage("cannot reopen the upload") }
        defer { close(fd) }
        var prefix = [UInt8](repeating: 0, count: ModelFormat.sniffByteCount)
        let n = read(fd, &prefix, prefix.count)
        let sniffed = ModelFormat(sniffing: prefix.prefix(max(0, n)), fileSize: size)
        switch sniffed {
        case .safetensors:
            return .safetensors
        case .zip, .tar:
            let holdsONNX = try MemoryMappedFile(path: path).withBytes { ONNXModel.isArchiveOfONNX($0) }
            return holdsONNX ? .onnx : .mlpackage
        case .unknown where size > 0 && ONNXModel.looksLikeModelProto(prefix.prefix(max(0, n))):
            return .onnx
        default:
            throw Problem.unsupportedFormat("the upload is not a supported model (detected: \(sniffed.description)); this server reads safetensors files, ONNX models (.onnx, or zipped/tarred with their external data) and Core ML .mlpackage directories zipped (zip -r) or tarred")
        }
    }

    /// The adapter that reads this format's model at `path` (memory-mapped) and writes its artifact.
    func adapter(path: String, packages: OpenedPackages? = nil, modelID: String? = nil) throws -> any FormatAdapter {
        switch self {
        case .safetensors: try SafetensorsAdapter(path: path)
        case .mlpackage: try CoreMLAdapter(path: path, opened: packages.flatMap { p in modelID.map { (p, $0) } })
        case .onnx: try ONNXAdapter(path: path)
        }
    }
}
