import Foundation
import Testing
@testable import Service

@Suite struct TokenRegistryTests {
    @Test(arguments: [
        ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER   abc", "abc"), ("  Bearer abc  ", "abc"),
        ("Basic abc", nil), ("Bearer", nil), ("Bearer a b", nil), ("Bearerabc", nil),
    ] as [(String, String?)])
    func theSchemeIsCaseInsensitive(header: String, token: String?) {
        #expect(TokenRegistry.bearerToken(header).map(String.init) == token)
    }

    @Test func inlineTokensAreTheDefaultTenantsAndNothingElseMatches() throws {
        let registry = try TokenRegistry(apiTokens: ["secret"], tokensPath: "")
        #expect(!registry.isOpen)
        #expect(registry.tenant(forAuthorization: "bearer secret") == "default")
        for header in ["Bearer secreT", "Bearer secret2", "Bearer secre", "Bearer ", nil] as [String?] {
            #expect(registry.tenant(forAuthorization: header) == nil, "\(header ?? "none")")
        }
        #expect(try TokenRegistry(apiTokens: [], tokensPath: "").tenant(forAuthorization: nil) == "default", "open")
    }

    @Test func theTokensFileIsReReadWhenItChanges() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tokens"
        try TokenFile.update(path: path) { $0.entries.append(.init(tenant: "vision", digest: TokenFile.digest(of: "t1"))) }
        let registry = try TokenRegistry(apiTokens: [], tokensPath: path)
        #expect(registry.tenant(forAuthorization: "Bearer t1") == "vision")
        #expect(registry.tenant(forAuthorization: "Bearer t2") == nil)
        Thread.sleep(forTimeInterval: 1.1)
        try TokenFile.update(path: path) { file in
            file.entries = [.init(tenant: "speech", digest: TokenFile.digest(of: "t2"))]
        }
        let reloaded = waitUntil(timeout: 5) { registry.tenant(forAuthorization: "Bearer t2") == "speech" }
        #expect(reloaded)
        #expect(registry.tenant(forAuthorization: "Bearer t1") == nil, "revoked")
    }

    @Test func anUnreadableTokensFileStopsTheStart() {
        #expect(throws: StartupError.self) { try TokenRegistry(apiTokens: [], tokensPath: "/nonexistent/tokens") }
    }
}
