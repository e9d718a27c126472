/// Why an uploaded zip or tar archive is rejected. Every case is a problem with the upload
/// (HTTP 422 material), named with the entry and numbers involved.
public enum ArchiveError: Error, Equatable, Sendable, CustomStringConvertible {
    case notAnArchive(reason: String)
    case truncated(what: String)
    case corrupt(entry: String?, reason: String)
    case unsafePath(String, reason: String)
    case duplicateEntry(String)
    case unsupportedEntryType(entry: String, type: String)
    case encryptedEntry(String)
    case unsupportedCompression(entry: String, method: UInt16)
    case tooManyEntries(limit: Int)
    case entryTooLarge(entry: String, byteCount: UInt64, limit: UInt64)
    case totalTooLarge(limit: UInt64)
    case compressionRatioTooHigh(entry: String, compressed: UInt64, uncompressed: UInt64, limit: UInt64)
    case dataOutsideArchive(entry: String)
    case overlappingEntries(String, String)
    case sizeMismatch(entry: String, declared: UInt64, actual: UInt64)
    case expandsPastDeclaredSize(entry: String, declared: UInt64)
    case checksumMismatch(entry: String, declared: UInt32, actual: UInt32)
    case zip64Unsupported(reason: String)

    public var description: String {
        switch self {
        case .notAnArchive(let reason):
            "not a valid archive: \(reason)"
        case .truncated(let what):
            "archive is truncated: \(what) runs past the end of the file"
        case .corrupt(let entry, let reason):
            (entry.map { "entry '\($0)': " } ?? "archive: ") + reason
        case .unsafePath(let name, let reason):
            "entry name '\(name)' is not a safe relative path: \(reason)"
        case .duplicateEntry(let name):
            "entry '\(name)' appears more than once"
        case .unsupportedEntryType(let entry, let type):
            "entry '\(entry)' is a \(type); only regular files and directories are accepted"
        case .encryptedEntry(let name):
            "entry '\(name)' is encrypted"
        case .unsupportedCompression(let entry, let method):
            "entry '\(entry)' uses compression method \(method); only stored (0) and deflate (8) are supported"
        case .tooManyEntries(let limit):
            "archive has more than \(limit) entries"
        case .entryTooLarge(let entry, let byteCount, let limit):
            "entry '\(entry)' is \(byteCount) bytes uncompressed, more than the limit of \(limit)"
        case .totalTooLarge(let limit):
            "archive expands to more than the limit of \(limit) bytes"
        case .compressionRatioTooHigh(let entry, let compressed, let uncompressed, let limit):
            "entry '\(entry)' expands \(compressed) bytes to \(uncompressed), more than \(limit):1; refusing a possible zip bomb"
        case .dataOutsideArchive(let entry):
            "entry '\(entry)' points at data outside the archive"
        case .overlappingEntries(let first, let second):
            "entries '\(first)' and '\(second)' share bytes; refusing a possible zip bomb"
        case .sizeMismatch(let entry, let declared, let actual):
            "entry '\(entry)' declares \(declared) bytes uncompressed but holds \(actual)"
        case .expandsPastDeclaredSize(let entry, let declared):
            "entry '\(entry)' declares \(declared) bytes uncompressed but expands past them; refusing a possible zip bomb"
        case .checksumMismatch(let entry, let declared, let actual):
            "entry '\(entry)' is corrupt: CRC-32 is \(hex(actual)) but the archive records \(hex(declared))"
        case .zip64Unsupported(let reason):
            "ZIP64 archive not supported: \(reason)"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
