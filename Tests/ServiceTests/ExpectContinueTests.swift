import Foundation
import Testing

/// `Expect: 100-continue` (RFC 9110 §10.1.1): the server says 100 before the client commits
/// the body, and curl's default large-body behaviour works.
@Suite("Expect: 100-continue")
struct ExpectContinueTests {
    /// About 2 MB of safetensors.
    static let twoMegabytes = SafetensorsFixture.random(
        [("a.weight", .float16, [1024, 512]), ("b.weight", .float16, [1024, 512])], seed: 21)

    @Test("the 100 Continue arrives before any body byte is sent, then the upload is stored")
    func continueBeforeBody() throws {
        let server = try TestServer()
        defer { server.stop() }
        let body = Self.twoMegabytes.bytes
        #expect(body.count > 2_000_000)
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send(RawHTTPClient.requestBytes("POST", "/v1/models", headers: [
            ("Content-Type", "application/octet-stream"), ("Content-Length", "\(body.count)"), ("Expect", "100-continue"),
        ]))
        let interim = try client.readResponse()
        #expect(interim.status == 100, "the server must answer the head with 100 Continue; got \(interim.status) \(interim.text)")
        #expect(interim.body.isEmpty)
        try client.send(body)
        let response = try client.readResponse()
        #expect(response.status == 201, "\(response.text)")
        #expect(response.json["bytes"] as? Int == body.count)
    }

    @Test("curl --data-binary @2MB.safetensors with default settings succeeds")
    func curlDataBinary() throws {
        let server = try TestServer()
        defer { server.stop() }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let body = Self.twoMegabytes.bytes
        let path = try writeTemporary(body, in: dir, name: "2MB.safetensors")
        let curl = try Curl.run(["--data-binary", "@\(path)", server.baseURL + "/v1/models"])
        #expect(curl.exitCode == 0, "\(curl.stderr)")
        #expect(curl.heads.first?.status == 100, "curl sends Expect for a body over 1 MB and gets a 100 first")
        #expect(curl.status == 201, "\(String(decoding: curl.stdout, as: UTF8.self))")
        #expect(curl.json["bytes"] as? Int == body.count)
    }
}
