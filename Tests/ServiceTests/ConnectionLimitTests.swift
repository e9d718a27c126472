import Foundation
import Testing

/// `server.max_connections` through the service: at the cap an idle kept-alive connection makes
/// room; when every connection is busy a newcomer gets 503 problem+json and is closed.
@Suite("connection limit")
struct ConnectionLimitTests {
    @Test("with 2 connections busy uploading, a third gets 503 problem+json")
    func thirdConnectionRefusedWhenTheOthersAreBusy() throws {
        let server = try TestServer { $0.maxConnections = 2 }
        defer { server.stop() }
        var busy: [RawHTTPClient] = []
        for _ in 0..<2 {
            let client = try RawHTTPClient(port: server.port)
            try client.send(Array("POST /v1/models HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\nabc".utf8))
            busy.append(client)
        }
        Thread.sleep(forTimeInterval: 0.2)
        let third = try RawHTTPClient(port: server.port)
        defer { third.close() }
        let refused = try third.readResponse()
        expectProblem(refused, status: 503, "third connection")
        #expect(refused.header("Retry-After") != nil)
        #expect(third.waitForClose())

        // A slot frees when one closes.
        busy[1].close()
        let admitted = waitUntil(timeout: 10) {
            (try? server.get("/healthz").status) == 200
        }
        #expect(admitted, "a new connection is served once one of the two closed")
        busy[0].close()
    }

    @Test("with 2 idle keep-alive connections open, a third is served and the older idle one closed")
    func idleConnectionMakesRoom() throws {
        let server = try TestServer { $0.maxConnections = 2 }
        defer { server.stop() }
        var idle: [RawHTTPClient] = []
        for _ in 0..<2 {
            let client = try RawHTTPClient(port: server.port)
            try client.send(RawHTTPClient.requestBytes("GET", "/healthz"))
            #expect(try client.readResponse().status == 200)
            idle.append(client)
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try server.get("/healthz").status == 200)
        #expect(idle[0].waitForClose())
        try idle[1].send(RawHTTPClient.requestBytes("GET", "/healthz"))
        #expect(try idle[1].readResponse().status == 200)
    }
}
