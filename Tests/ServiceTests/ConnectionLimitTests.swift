import Foundation
import Testing

/// `server.max_connections`: past the limit a new connection gets 503 problem+json and is closed.
@Suite("connection limit")
struct ConnectionLimitTests {
    @Test("with 2 idle keep-alive connections open, a third gets 503")
    func thirdConnectionRefused() throws {
        let server = try TestServer { $0.maxConnections = 2 }
        defer { server.stop() }
        var idle: [RawHTTPClient] = []
        for _ in 0..<2 {
            let client = try RawHTTPClient(port: server.port)
            try client.send(RawHTTPClient.requestBytes("GET", "/healthz"))
            #expect(try client.readResponse().status == 200)
            idle.append(client)
        }
        let third = try RawHTTPClient(port: server.port)
        defer { third.close() }
        let refused = try third.readResponse()
        expectProblem(refused, status: 503, "third connection")
        #expect(refused.header("Retry-After") != nil)
        #expect(third.waitForClose())

        // The kept-alive ones still work, and a slot frees when one closes.
        try idle[0].send(RawHTTPClient.requestBytes("GET", "/healthz"))
        #expect(try idle[0].readResponse().status == 200)
        idle[1].close()
        let admitted = waitUntil(timeout: 10) {
            (try? server.get("/healthz").status) == 200
        }
        #expect(admitted, "a new connection is served once one of the two closed")
        idle[0].close()
    }
}
