import Foundation
import Testing
@testable import Service

@Suite struct TokenFileTests {
    static let hash = String(repeating: "ab", count: 32)

    @Test func parsesTenantsAndHashesSkippingCommentsAndBlankLines() throws {
        let file = try TokenFile(parsing: "# team tokens\n\nvision \(Self.hash)\n  speech\t\(Self.hash.uppercased())  \n")
        #expect(file.entries.map(\.tenant) == ["vision", "speech"])
        #expect(file.entries.allSatisfy { $0.digest == [UInt8](repeating: 0xAB, count: 32) })
        #expect(try TokenFile(parsing: file.text) == TokenFile(entries: file.entries.map { .init(tenant: $0.tenant, digest: $0.digest) }))
    }

    @Test(arguments: [
        ("vision", TokenFile.ParseError.malformedLine(1)),
        ("vision \(hash) extra", .malformedLine(1)),
        ("bad/name \(hash)", .invalidTenant(line: 1, "bad/name")),
        ("ok \(hash.dropLast(2))", .invalidDigest(line: 1)),
        ("\nok zz\(hash.dropFirst(2))", .invalidDigest(line: 2)),
    ])
    func refusesMalformedLinesNamingTheLine(text: String, error: TokenFile.ParseError) {
        #expect(throws: error) { try TokenFile(parsing: text) }
    }

    @Test func updateReplacesTheFileAtomicallyWithOwnerOnlyPermissions() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tokens"
        let token = TokenFile.generateToken()
        #expect(token.hasPrefix("qd_") && token.count == 67)
        try TokenFile.update(path: path) { $0.entries.append(.init(tenant: "a", digest: TokenFile.digest(of: token))) }
        try TokenFile.update(path: path) { $0.entries.append(.init(tenant: "b", digest: TokenFile.digest(of: "x"))) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(token), "only the hash is stored")
        #expect(try TokenFile(parsing: text).entries.map(\.tenant) == ["a", "b"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["tokens"], "no temp file left")
    }
}
