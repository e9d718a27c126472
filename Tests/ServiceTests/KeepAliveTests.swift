import Foundation
import Testing

/// Persistent connections and pipelining over one raw socket (RFC 9112 §9).
@Suite("keep-alive and pipelining")
struct KeepAliveTests {
    @Test("three pipelined GETs in one write get three responses, in order, on one connection")
    func pipelinedRequestsAnswerInOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let model = try server.uploadModel(SafetensorsFixture.standard(seed: 4).bytes)
        let jobID = try server.createJob(modelID: try #require(model["id"] as? String))

        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send(RawHTTPClient.requestBytes("GET", "/healthz")
            + RawHTTPClient.requestBytes("GET", "/v1/jobs/\(jobID)")
            + RawHTTPClient.requestBytes("GET", "/v1/presets"))

        let health = try client.readResponse()
        let job = try client.readResponse()
        let presets = try client.readResponse()
        #expect(health.status == 200 && health.json["status"] as? String == "ok", "first: /healthz, got \(health.text)")
        #expect(job.status == 200 && job.json["id"] as? String == jobID, "second: the job, got \(job.text)")
        #expect(presets.status == 200, "third: /v1/presets")
        let names = (presets.json["presets"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.contains("w8"), "third response lists presets, got \(presets.text)")
        for r in [health, job, presets] { #expect(!r.closesConnection) }

        // Still open: a fourth request on the same socket is answered.
        try client.send(RawHTTPClient.requestBytes("GET", "/healthz"))
        #expect(try client.readResponse().status == 200)
    }

    @Test("HTTP/1.0 without keep-alive gets Connection: close and the socket closes")
    func http10ClosesByDefault() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send("GET /healthz HTTP/1.0\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.closesConnection, "headers: \(response.headers)")
        #expect(client.waitForClose(), "the server closes after an HTTP/1.0 response")
    }

    @Test("HTTP/1.0 with Connection: keep-alive stays open")
    func http10KeepAliveStaysOpen() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.status == 200)
        #expect(first.header("Connection")?.lowercased() == "keep-alive")
        try client.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try client.readResponse().status == 200)
    }

    @Test("Connection: close on HTTP/1.1 closes after the response")
    func connectionCloseOnHTTP11() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send(RawHTTPClient.requestBytes("GET", "/v1/presets", headers: [("Connection", "close")]))
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.closesConnection)
        #expect(client.waitForClose(), "the socket closes after the response")
    }
}

@Suite("keep-alive between requests")
struct KeepAliveEmptyLineTests {
    @Test("an empty line after a request does not start a header deadline on the idle connection")
    func strayCRLFIsNotARequest() throws {
        let server = try TestServer { $0.headerReadTimeout = 1 }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        try client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        // Longer than the header timeout: the stray CRLF must not earn a 408.
        Thread.sleep(forTimeInterval: 2.5)
        try client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readResponse().status == 200)
    }
}
