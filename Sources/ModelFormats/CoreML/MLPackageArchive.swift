/// An uploaded `.mlpackage`, zipped or tarred: its files by path and its package layout.
/// Entries are read from the archive's bytes on demand (zip entries inflated and verified).
public struct MLPackageArchive: Sendable {
    enum Container: Sendable {
        case zip(ZipArchive)
        case tar(TarArchive)
    }

    let container: Container
    public let package: MLPackage<String>
    /// Every file (not directory) path, in archive order.
    public let filePaths: [String]

    /// Opens `bytes` as a zip (by its local-header magic) or otherwise a tar.
    public init(bytes: UnsafeRawBufferPointer, limits: ArchiveLimits = ArchiveLimits()) throws(MLPackageArchiveError) {
        do {
            if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
                let zip = try ZipArchive(parsing: bytes, limits: limits)
                container = .zip(zip)
                filePaths = zip.entries.filter { !$0.isDirectory }.map(\.path)
            } else {
                let tar = try TarArchive(parsing: bytes, limits: limits)
                container = .tar(tar)
                filePaths = tar.entries.filter { !$0.isDirectory }.map(\.path)
            }
        } catch {
            throw .archive(error)
        }
        let entries = Dictionary(filePaths.map { ($0, $0) }, uniquingKeysWith: { first, _ in first })
        do {
            let manifestPath = try MLPackage<String>.manifestPath(in: filePaths)
            let manifest = try Self.contents(container, manifestPath, bytes)
            package = try manifest.withUnsafeBytes { json throws(MLPackageError) in
                try MLPackage(entries: entries, manifestJSON: json)
            }
        } catch let error as MLPackageError {
            throw .package(error)
        } catch let error as ArchiveError {
            throw .archive(error)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    /// The file's bytes; `bytes` must be the archive this was opened from.
    public func contents(of path: String, in bytes: UnsafeRawBufferPointer) throws(MLPackageArchiveError) -> [UInt8] {
        do { return try Self.contents(container, path, bytes) } catch { throw .archive(error) }
    }

    private static func contents(_ container: Container, _ path: String,
                                 _ bytes: UnsafeRawBufferPointer) throws(ArchiveError) -> [UInt8] {
        switch container {
        case .zip(let zip):
            guard let entry = zip.entry(at: path) else { throw .truncated(what: "entry '\(path)'") }
            return try zip.contents(of: entry, in: bytes)
        case .tar(let tar):
            guard let entry = tar.entry(at: path) else { throw .truncated(what: "entry '\(path)'") }
            return Array(bytes[entry.dataRange])
        }
    }
}

public enum MLPackageArchiveError: Error, Sendable, CustomStringConvertible {
    case archive(ArchiveError)
    case package(MLPackageError)

    public var description: String {
        switch self {
        case .archive(let error): "the upload is not a readable zip or tar of an .mlpackage: \(error)"
        case .package(let error): "the archive is not a valid .mlpackage: \(error)"
        }
    }
}
