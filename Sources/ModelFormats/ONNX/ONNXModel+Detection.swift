extension ONNXModel {
    /// Whether a zip or tar upload is an ONNX model with its external data rather than a Core
    /// ML package: it holds a `.onnx` file and nothing inside an `.mlpackage`.
    public static func isArchiveOfONNX(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let paths: [String]
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            guard let zip = try? ZipArchive(parsing: bytes, limits: ArchiveLimits()) else { return false }
            paths = zip.entries.map(\.path)
        } else if let tar = try? TarArchive(parsing: bytes, limits: ArchiveLimits()) {
            paths = tar.entries.map(\.path)
        } else {
            return false
        }
        return paths.contains { $0.lowercased().hasSuffix(".onnx") } && !paths.contains { $0.contains(".mlpackage/") || $0.hasSuffix(".mlpackage") }
    }

    /// Whether a file's first bytes can open a serialized `ModelProto`: protobuf has no magic
    /// number, but every exporter writes field 1 (`ir_version`, a small varint) first.
    public static func looksLikeModelProto(_ prefix: some Collection<UInt8>) -> Bool {
        let bytes = Array(prefix.prefix(2))
        return bytes.count == 2 && bytes[0] == 0x08 && (3...12).contains(bytes[1])
    }
}
