/// What kind of model file an upload is, judged by its content rather than its name.
///
/// Only safetensors can be read today; the other cases exist so the service can tell a user
/// precisely what they sent (a zip is likely a PyTorch checkpoint or a zipped .mlpackage)
/// instead of a generic "invalid file". ONNX is plain protobuf without a magic number, so it
/// cannot be told apart from arbitrary bytes reliably and falls under `.unknown`.
public enum ModelFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case safetensors
    case zip
    case tar
    case gzip
    case unknown

    /// Prefix length that lets every format be recognised: a tar header is 512 bytes with its
    /// "ustar" magic at offset 257. The other formats need only the first 16 bytes.
    public static let sniffByteCount = 512

    /// Classifies a file from its first bytes (up to `sniffByteCount`; more are ignored) and its
    /// total size. With fewer than 262 bytes a tar archive is reported as `.unknown`.
    public init(sniffing prefix: some Collection<UInt8>, fileSize: Int) {
        let bytes = Array(prefix.prefix(Self.sniffByteCount))
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            self = .zip
        } else if bytes.starts(with: [0x1F, 0x8B]) {
            self = .gzip
        } else if Self.looksLikeSafetensors(bytes, fileSize: fileSize) {
            self = .safetensors
        } else if bytes.count >= 262, bytes[257..<262].elementsEqual("ustar".utf8) {
            self = .tar
        } else {
            self = .unknown
        }
    }

    public var isSupported: Bool { self == .safetensors }

    public var description: String {
        switch self {
        case .safetensors: "safetensors"
        case .zip: "ZIP archive (such as a PyTorch checkpoint or a zipped Core ML package)"
        case .tar: "tar archive"
        case .gzip: "gzip-compressed file"
        case .unknown: "unrecognised format"
        }
    }

    /// A plausible header length followed by the JSON object's opening brace. Full validation
    /// is `SafetensorsHeader`'s job; this only has to avoid claiming other formats' files.
    /// A length past the end of the file still counts: that is a truncated or corrupt
    /// safetensors file, and the user is better served by the header parser's precise error.
    private static func looksLikeSafetensors(_ bytes: [UInt8], fileSize: Int) -> Bool {
        guard bytes.count >= 9 else { return false }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        // "{}" is the smallest header; a length with any of the top 16 bits set is not a header.
        return headerLength >= 2 && headerLength < 1 << 48 && bytes[8] == UInt8(ascii: "{")
    }
}
