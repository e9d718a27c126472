import ArgumentParser
import Foundation
import Service

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Add or revoke a tenant's API tokens in a tokens file (auth.tokens_path).",
        discussion: "The file holds '<tenant> <sha256-of-token>' lines only; a running server re-reads it when it changes.",
        subcommands: [Add.self, Revoke.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a token for TENANT, store its hash, and print the token once (last line).")

        @Argument(help: "Tenant name: 1–64 letters, digits, '.', '_' or '-'.")
        var tenant: String

        @Option(name: .long, help: "The tokens file (created if missing).")
        var tokensPath: String

        mutating func run() throws {
            guard TokenFile.isValidTenant(tenant) else {
                throw ValidationError("tenant '\(tenant)' must be 1–64 letters, digits, '.', '_' or '-'")
            }
            let token = TokenFile.generateToken()
            let tenant = self.tenant
            do {
                try TokenFile.update(path: tokensPath) { $0.entries.append(.init(tenant: tenant, digest: TokenFile.digest(of: token))) }
            } catch {
                throw ValidationError("\(error)")
            }
            print("token for tenant \(tenant) added to \(tokensPath); it is shown only now:")
            print(token)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke TENANT's tokens: all of them, or the one given with --token.")

        @Argument(help: "Tenant name.")
        var tenant: String

        @Option(name: .long, help: "The tokens file.")
        var tokensPath: String

        @Option(name: .long, help: "Revoke only this token of the tenant.")
        var token: String?

        mutating func run() throws {
            let (tenant, digest) = (self.tenant, token.map(TokenFile.digest(of:)))
            let removed: Int
            do {
                removed = try TokenFile.update(path: tokensPath) { file in
                    let before = file.entries.count
                    file.entries.removeAll { $0.tenant == tenant && (digest == nil || $0.digest == digest) }
                    return before - file.entries.count
                }
            } catch {
                throw ValidationError("\(error)")
            }
            guard removed > 0 else { throw ValidationError("no matching token of tenant '\(tenant)' in \(tokensPath)") }
            print("revoked \(removed) token\(removed == 1 ? "" : "s") of tenant \(tenant)")
        }
    }
}
