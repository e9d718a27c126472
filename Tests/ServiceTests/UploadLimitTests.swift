import Foundation
import Testing

/// `server.max_upload_bytes`: an upload over the limit is refused from its head when it
/// declares its length, and cut off at the limit when it does not.
@Suite("upload size limit")
struct UploadLimitTests {
    static let limit = 1 << 20

    @Test("a head declaring 2 MiB with Expect gets 413 at once, no 100, and the connection closes")
    func declaredTooLargeWithExpect() throws {
        let server = try TestServer { $0.maxUploadBytes = UInt64(Self.limit) }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send(RawHTTPClient.requestBytes("POST", "/v1/models", headers: [
            ("Content-Length", "\(2 << 20)"), ("Expect", "100-continue"),
        ]))
        let response = try client.readResponse()
        #expect(response.status != 100, "no 100 Continue for a body that will be refused")
        expectProblem(response, status: 413, "declared 2 MiB")
        #expect(response.closesConnection)
        #expect(client.waitForClose(), "the connection closes: the client never sent the body")
        #expect(server.files(in: server.tmpDirectory).isEmpty)
    }

    @Test("a body one byte over the limit without Expect gets 413")
    func bodyOverLimitWithoutExpect() throws {
        let server = try TestServer { $0.maxUploadBytes = UInt64(Self.limit) }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        let body = [UInt8](repeating: 0x41, count: Self.limit + 1)
        // The server may answer and close before all of it is sent; the answer is what counts.
        try? client.send(RawHTTPClient.requestBytes("POST", "/v1/models", headers: [("Content-Type", "application/octet-stream")], body: body))
        let response = try client.readResponse()
        expectProblem(response, status: 413, "1 MiB + 1 body")
        #expect(waitUntil(timeout: 10) { server.files(in: server.tmpDirectory).isEmpty }, "nothing of it stays in tmp/")
        #expect(server.files(in: server.modelsDirectory).isEmpty)
    }

    @Test("a chunked body that grows past the limit gets 413 and is not stored")
    func chunkedBodyOverLimit() throws {
        let server = try TestServer { $0.maxUploadBytes = UInt64(Self.limit) }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        let chunk = [UInt8](repeating: 0x42, count: 256 * 1024)
        var bytes = RawHTTPClient.requestBytes("POST", "/v1/models", headers: [("Transfer-Encoding", "chunked")])
        for _ in 0..<5 { bytes += Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk + [13, 10] }
        bytes += Array("0\r\n\r\n".utf8)
        try? client.send(bytes)
        let response = try client.readResponse()
        expectProblem(response, status: 413, "chunked 1.25 MiB")
        #expect(waitUntil(timeout: 10) { server.files(in: server.tmpDirectory).isEmpty }, "the partial upload is removed")
        #expect(server.files(in: server.modelsDirectory).isEmpty)
    }

    @Test("an upload exactly at the limit is accepted")
    func bodyAtLimitAccepted() throws {
        let fixture = SafetensorsFixture.random([("w", .float32, [64, 1024])], seed: 5)
        let server = try TestServer { $0.maxUploadBytes = UInt64(fixture.bytes.count) }
        defer { server.stop() }
        let response = try server.request("POST", "/v1/models", body: fixture.bytes)
        #expect(response.status == 201, "\(response.text)")
    }
}
