/// The layout of an extracted `.mlpackage`: where its root model and the files the model
/// refers to are among an archive's entries. Generic over what an entry is (a `ZipEntry`, a
/// `TarEntry`, a byte range), so it works on any container and is tested without one.
///
/// A package is `Manifest.json` plus `Data/<item path>` per item; the root model's
/// `@model_path` is the folder holding the root model file. Zips made with
/// `zip -r x.zip x.mlpackage` put everything under one top-level folder; that prefix is taken
/// from where `Manifest.json` is.
public struct MLPackage<Entry: Sendable>: Sendable {
    /// "" or the top-level folder with its trailing `/`.
    public let prefix: String
    public let manifest: MLPackageManifest
    /// Entry path of the root model (prefix included).
    public let rootModelPath: String
    public let rootModel: Entry
    /// Entry path `@model_path/` stands for, with a trailing `/`.
    public let modelDirectory: String
    private let entries: [String: Entry]

    /// The entry path of `Manifest.json`: at the top, or inside exactly one top-level folder.
    public static func manifestPath(in paths: some Sequence<String>) throws(MLPackageError) -> String {
        let found = paths.filter { path in
            path == "Manifest.json" || (path.hasSuffix("/Manifest.json") && path.dropLast(14).split(separator: "/").count == 1)
        }
        guard let first = found.first else { throw .manifestMissing }
        guard found.count == 1 else { throw .ambiguousManifest(found.sorted()) }
        return first
    }

    /// `entries` maps entry paths (as `ZipEntry.path`, without trailing `/`) to entries;
    /// `manifestJSON` is the content of the entry at `manifestPath(in: entries.keys)`.
    public init(entries: [String: Entry], manifestJSON: UnsafeRawBufferPointer) throws(MLPackageError) {
        let manifestPath = try Self.manifestPath(in: entries.keys)
        prefix = String(manifestPath.dropLast("Manifest.json".count))
        manifest = try MLPackageManifest(parsing: manifestJSON)
        let itemPath = manifest.rootModel.path
        guard let safePath = try? ArchivePath.validated(itemPath), safePath == itemPath else {
            throw .unsafeItemPath(itemPath)
        }
        rootModelPath = prefix + "Data/" + itemPath
        guard let rootModel = entries[rootModelPath] else { throw .modelFileMissing(rootModelPath) }
        self.rootModel = rootModel
        modelDirectory = String(rootModelPath[..<rootModelPath.lastIndex(of: "/")!]) + "/"
        self.entries = entries
    }

    /// Resolves a file reference from the model, such as a `BlobFileValue.fileName` of
    /// `@model_path/weights/weight.bin`, to its entry path and entry.
    public func resolve(_ reference: String) throws(MLPackageError) -> (path: String, entry: Entry) {
        let marker = "@model_path/"
        guard reference.hasPrefix(marker) else { throw .notRelativeToModel(reference) }
        let relative = String(reference.dropFirst(marker.count))
        guard let safe = try? ArchivePath.validated(relative), safe == relative else {
            throw .notRelativeToModel(reference)
        }
        let path = modelDirectory + relative
        guard let entry = entries[path] else { throw .referencedFileMissing(reference: reference, path: path) }
        return (path, entry)
    }
}
