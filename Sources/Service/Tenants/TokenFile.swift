import Foundation
import Glibc

/// `auth.tokens_path`: one `<tenant> <sha256-of-token>` line per token (hex, lowercase), `#`
/// comments and blank lines allowed. Only hashes are stored: a leaked file grants nothing.
public struct TokenFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var tenant: String
        /// SHA-256 of the token, 32 bytes.
        public var digest: [UInt8]

        public init(tenant: String, digest: [UInt8]) {
            self.tenant = tenant
            self.digest = digest
        }
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformedLine(Int)
        case invalidTenant(line: Int, String)
        case invalidDigest(line: Int)

        public var description: String {
            switch self {
            case .malformedLine(let n): "line \(n) is not '<tenant> <sha256-hex>'"
            case .invalidTenant(let n, let name): "line \(n): tenant '\(name)' must be 1–64 letters, digits, '.', '_' or '-'"
            case .invalidDigest(let n): "line \(n): the hash must be 64 hex digits (the SHA-256 of the token)"
            }
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    public init(parsing text: String) throws(ParseError) {
        var entries: [Entry] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 else { throw .malformedLine(index + 1) }
            let tenant = String(fields[0])
            guard Self.isValidTenant(tenant) else { throw .invalidTenant(line: index + 1, tenant) }
            guard let digest = Self.bytes(hex: fields[1]), digest.count == 32 else { throw .invalidDigest(line: index + 1) }
            entries.append(Entry(tenant: tenant, digest: digest))
        }
        self.entries = entries
    }

    /// The file's text: one line per entry.
    public var text: String {
        entries.map { "\($0.tenant) \(Self.hex($0.digest))\n" }.joined()
    }

    public static func isValidTenant(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy {
            switch $0 {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): true
            default: false
            }
        }
    }

    static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension TokenFile {
    public enum UpdateError: Error, CustomStringConvertible {
        case unreadable(String, TokenFile.ParseError)
        case write(String, String)

        public var description: String {
            switch self {
            case .unreadable(let path, let error): "\(path) is not a valid tokens file: \(error)"
            case .write(let path, let why): "cannot write \(path): \(why)"
            }
        }
    }

    /// A new random token: 32 bytes from the system's generator, as `qd_` and 64 hex digits.
    public static func generateToken() -> String {
        var rng = SystemRandomNumberGenerator()
        return "qd_" + hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    public static func digest(of token: String) -> [UInt8] { TokenRegistry.digest(Array(token.utf8)) }

    /// Reads the file at `path` (none yet is an empty file), applies `change`, and replaces it
    /// atomically (temp file, fsync, rename) with owner-only permissions, so a running server
    /// never reads half a file.
    public static func update<Result>(path: String, _ change: (inout TokenFile) throws -> Result) throws -> Result {
        var file = TokenFile()
        if let data = FileManager.default.contents(atPath: path) {
            do { file = try TokenFile(parsing: String(decoding: data, as: UTF8.self)) } catch { throw UpdateError.unreadable(path, error) }
        }
        let result = try change(&file)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw UpdateError.write(path, String(cString: strerror(errno))) }
        defer { unlink(temporary) }
        do {
            try Array(file.text.utf8).withUnsafeBytes { try writeAll($0, to: fd) }
            guard fsync(fd) == 0 else { throw UpdateError.write(path, String(cString: strerror(errno))) }
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        guard rename(temporary, path) == 0 else { throw UpdateError.write(path, String(cString: strerror(errno))) }
        DataDirectory.syncDirectory(of: path)
        return result
    }
}
