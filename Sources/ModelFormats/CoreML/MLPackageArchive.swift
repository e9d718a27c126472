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

    /// The file's bytes in place when the archive stores them (tar, stored zip entries, after
    /// its CRC-32 is checked), else inflated into memory the result owns; valid while both the
    /// result and `bytes` are. A weight file is the bulk of a package: this saves a copy of it.
    public func data(of path: String, in bytes: UnsafeRawBufferPointer) throws(MLPackageArchiveError) -> EntryData {
        switch container {
        case .zip(let zip):
            guard let entry = zip.entry(at: path) else { throw .archive(.truncated(what: "entry '\(path)'")) }
            do throws(ArchiveError) {
                if entry.method == .stored { return EntryData(borrowing: try zip.storedBytes(of: entry, in: bytes)) }
                // The declared size was checked against the limits when the archive was opened,
                // and the decoder never writes past it.
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(entry.uncompressedByteCount), alignment: 64)
                do {
                    try zip.extract(entry, from: bytes, into: buffer)
                } catch {
                    buffer.deallocate()
                    throw error
                }
                return EntryData(owning: buffer)
            } catch {
                throw .archive(error)
            }
        case .tar(let tar):
            guard let entry = tar.entry(at: path) else { throw .archive(.truncated(what: "entry '\(path)'")) }
            return EntryData(borrowing: UnsafeRawBufferPointer(rebasing: bytes[entry.dataRange]))
        }
    }

    /// The file inflating on a thread of its own when the archive holds it deflated (see
    /// `InflatingEntry`); nil when it is stored, whose bytes `data(of:in:)` gives in place.
    public func inflating(_ path: String, in bytes: UnsafeRawBufferPointer) throws(MLPackageArchiveError) -> InflatingEntry? {
        guard case .zip(let zip) = container else { return nil }
        guard let entry = zip.entry(at: path) else { throw .archive(.truncated(what: "entry '\(path)'")) }
        return entry.method == .deflated ? InflatingEntry(entry, of: zip, in: bytes) : nil
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

/// One file of an archive: borrowed from the archive's bytes or owned.
public final class EntryData: @unchecked Sendable {
    // Immutable after init; an owned buffer is freed with the object.
    public let bytes: UnsafeRawBufferPointer
    private let owned: UnsafeMutableRawBufferPointer?
    /// What keeps `bytes` valid when another object owns them.
    private let owner: AnyObject?

    init(borrowing bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        owned = nil
        owner = nil
    }

    /// Takes ownership of `buffer`, which holds the contents.
    init(owning buffer: UnsafeMutableRawBufferPointer) {
        owned = buffer
        bytes = UnsafeRawBufferPointer(buffer)
        owner = nil
    }

    /// Bytes that stay valid while `owner` lives.
    init(keeping owner: AnyObject, bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        owned = nil
        self.owner = owner
    }

    deinit { owned?.deallocate() }
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
