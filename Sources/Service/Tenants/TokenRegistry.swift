import COpenSSL
import Foundation
import Synchronization

/// Who a request is: the tenant its bearer token belongs to. Tokens come from `auth.tokens_path`
/// (hashes only; the file is re-read when it changes, so `quantd token add`/`revoke` take effect
/// without a restart) and from `server.api_tokens` (tenant `default`). With neither, the server
/// is open and every request is `default`'s.
final class TokenRegistry: Sendable {
    static let defaultTenant = "default"

    private struct Loaded {
        var entries: [TokenFile.Entry]
        var modified: Date?
        var checked: Double
    }

    private let inline: [TokenFile.Entry]
    private let path: String
    private let loaded: Mutex<Loaded>

    init(apiTokens: [String], tokensPath: String) throws {
        inline = apiTokens.map { TokenFile.Entry(tenant: Self.defaultTenant, digest: Self.digest(Array($0.utf8))) }
        path = tokensPath
        var first = Loaded(entries: [], modified: nil, checked: 0)
        if !tokensPath.isEmpty {
            guard let (entries, modified) = try Self.read(tokensPath) else {
                throw StartupError("cannot read the tokens file \(tokensPath); create it with 'quantd token add TENANT --tokens-path \(tokensPath)' or fix auth.tokens_path")
            }
            first = Loaded(entries: entries, modified: modified, checked: ProcessInfo.processInfo.systemUptime)
        }
        loaded = Mutex(first)
    }

    var isOpen: Bool { inline.isEmpty && path.isEmpty }

    /// The tenant of an `Authorization` header, or nil when it names no known token. The
    /// scheme is case-insensitive (RFC 9110 §11.1); every token's hash is compared in full.
    func tenant(forAuthorization header: String?) -> String? {
        if isOpen { return Self.defaultTenant }
        guard let header, let token = Self.bearerToken(header) else { return nil }
        let given = Self.digest(Array(token.utf8))
        var found: String?
        for entry in inline + currentFileEntries() {
            var diff: UInt8 = 0
            for i in 0..<32 { diff |= entry.digest[i] ^ given[i] }
            if diff == 0 && found == nil { found = entry.tenant }
        }
        return found
    }

    /// `Bearer <token>`: the scheme in any case, one or more spaces, a non-empty token68.
    static func bearerToken(_ header: String) -> Substring? {
        let parts = header.split(separator: " ")
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1]
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = SHA256(bytes, bytes.count, &out)
        return out
    }

    /// The file's entries, re-read when its modification time changed (looked at once a second).
    private func currentFileEntries() -> [TokenFile.Entry] {
        guard !path.isEmpty else { return [] }
        return loaded.withLock { state in
            let now = ProcessInfo.processInfo.systemUptime
            guard now - state.checked >= 1 else { return state.entries }
            state.checked = now
            let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
            guard modified != state.modified else { return state.entries }
            do {
                // A removed file revokes every token in it.
                let (entries, stamp) = try Self.read(path) ?? ([], nil)
                state.entries = entries
                state.modified = stamp
            } catch {
                // An invalid file (a hand edit gone wrong) keeps the last good tokens.
            }
            return state.entries
        }
    }

    private static func read(_ path: String) throws -> ([TokenFile.Entry], Date?)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        do {
            return (try TokenFile(parsing: String(decoding: data, as: UTF8.self)).entries, modified)
        } catch {
            throw StartupError("the tokens file \(path) is invalid: \(error)")
        }
    }
}
