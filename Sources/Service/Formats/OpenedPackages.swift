import ModelFormats
import Synchronization

/// Core ML packages as `CoreMLCompressor.open` reads them (archive layout, parsed model
/// specification, opset), kept by model id for the next request on the same model: an upload,
/// its job's preflight and the job itself each open the package, and parsing a ResNet50-sized
/// specification takes ~7 ms. A model id is the SHA-256 of the bytes, so an entry is valid for
/// every copy of them; entries hold offsets into the bytes, not the bytes.
final class OpenedPackages: Sendable {
    typealias Package = (archive: MLPackageArchive, model: MLProgramModel, opset: MILOpset)

    private let keep: Int
    /// Most recently used last.
    private let recent = Mutex<[(id: String, package: Package)]>([])

    init(keep: Int = 4) {
        self.keep = keep
    }

    /// The package of model `id`, whose bytes are `bytes`: kept, or opened now and kept.
    func open(_ bytes: UnsafeRawBufferPointer, id: String) throws -> Package {
        let kept: Package? = recent.withLock { recent in
            guard let index = recent.firstIndex(where: { $0.id == id }) else { return nil }
            let entry = recent.remove(at: index)
            recent.append(entry)
            return entry.package
        }
        if let kept { return kept }
        let package = try CoreMLCompressor.open(bytes)
        recent.withLock { recent in
            recent.removeAll { $0.id == id }
            recent.append((id, package))
            if recent.count > keep { recent.removeFirst(recent.count - keep) }
        }
        return package
    }

    /// Ids kept, least recently used first (for tests).
    var ids: [String] { recent.withLock { $0.map(\.id) } }
}
