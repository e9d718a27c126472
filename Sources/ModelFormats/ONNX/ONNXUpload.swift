/// Where an uploaded ONNX model's bytes lie: a bare `.onnx` file, or a zip or tar archive
/// holding exactly one `.onnx` and the external data files it names, beside it or below it.
struct ONNXUpload: Sendable {
    enum Container: Sendable {
        case bare
        case zip(ZipArchive)
        case tar(TarArchive)
    }

    let container: Container
    /// The model's path inside the archive; nil for a bare file.
    let modelPath: String?

    /// A zip by its local-header magic, a tar by its ustar magic, anything else a bare model.
    init(bytes: UnsafeRawBufferPointer, limits: ArchiveLimits) throws(ONNXError) {
        let paths: [String]
        do throws(ArchiveError) {
            if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
                let zip = try ZipArchive(parsing: bytes, limits: limits)
                container = .zip(zip)
                paths = zip.entries.filter { !$0.isDirectory }.map(\.path)
            } else if bytes.count >= 262, bytes[257..<262].elementsEqual("ustar".utf8) {
                let tar = try TarArchive(parsing: bytes, limits: limits)
                container = .tar(tar)
                paths = tar.entries.filter { !$0.isDirectory }.map(\.path)
            } else {
                container = .bare
                modelPath = nil
                return
            }
        } catch {
            throw .archive(error)
        }
        let models = paths.filter { path in
            // Finder's zips add AppleDouble twins (`__MACOSX/…`, `._model.onnx`) that are not models.
            let name = path.split(separator: "/").last ?? ""
            return path.lowercased().hasSuffix(".onnx") && !name.hasPrefix("._") && !path.hasPrefix("__MACOSX/")
        }
        guard let model = models.first else { throw .noModelInArchive }
        guard models.count == 1 else { throw .severalModelsInArchive(models) }
        modelPath = model
    }

    /// The model file's last path component, or nil for a bare upload.
    var modelFileName: String? {
        modelPath.map { String($0.split(separator: "/").last ?? Substring($0)) }
    }

    /// The `.onnx` file's bytes: the upload itself, or its archive entry (in place when stored).
    func modelBytes(in bytes: UnsafeRawBufferPointer) throws(ONNXError) -> EntryData {
        guard let modelPath else { return EntryData(borrowing: bytes) }
        return try file(at: modelPath, in: bytes)!
    }

    /// The file an external-data `location` names, resolved against the model's directory;
    /// nil when the upload does not hold it. `location` must already be a validated `ArchivePath`.
    func externalFile(_ location: String, in bytes: UnsafeRawBufferPointer) throws(ONNXError) -> EntryData? {
        guard let modelPath else { return nil }
        let directory = modelPath.split(separator: "/").dropLast().joined(separator: "/")
        return try file(at: directory.isEmpty ? location : directory + "/" + location, in: bytes)
    }

    /// Stored entries in place (a stored zip entry's CRC-32 checked once, here), deflated ones
    /// inflated (by `InflatingEntry`) into memory the result owns.
    private func file(at path: String, in bytes: UnsafeRawBufferPointer) throws(ONNXError) -> EntryData? {
        do throws(ArchiveError) {
            switch container {
            case .bare:
                return nil
            case .tar(let tar):
                guard let entry = tar.entry(at: path), !entry.isDirectory else { return nil }
                return EntryData(borrowing: UnsafeRawBufferPointer(rebasing: bytes[entry.dataRange]))
            case .zip(let zip):
                guard let entry = zip.entry(at: path), !entry.isDirectory else { return nil }
                if entry.method == .stored { return EntryData(borrowing: try zip.storedBytes(of: entry, in: bytes)) }
                return try InflatingEntry(entry, of: zip, in: bytes).finish()
            }
        } catch {
            throw .archive(error)
        }
    }
}
