import Foundation
import Testing
@testable import HTTP

/// The connection with a real socket and a stub responder: framing that arrives in one read,
/// request targets, and errors that must close rather than hang.
@Suite struct HTTPConnectionTests {
    @Test func aChunkedRequestThatArrivesInOneReadIsAnswered() throws {
        let server = try StubServer()
        defer { server.stop() }
        let client = try RawSocket(port: server.port)
        client.send("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.hasPrefix("HTTP/1.1 200"))
        #expect(response.hasSuffix("POST /x host=h body=abcde"))
    }

    /// Chunk data not followed by CRLF is a framing error: 400 and close, not a wait for the
    /// header timeout.
    @Test func chunkDataWithoutItsCRLFIsRefusedAndTheConnectionClosed() throws {
        let server = try StubServer { $0.headerReadTimeout = 30 }
        defer { server.stop() }
        let client = try RawSocket(port: server.port, timeout: 10)
        client.send("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n")
        let (text, timedOut) = client.readAll()
        #expect(!timedOut, "the server kept the connection open: \(text)")
        #expect(text.hasPrefix("HTTP/1.1 400"), "\(text)")
    }

    @Test func anAbsoluteFormTargetIsServedAsItsPath() throws {
        let server = try StubServer()
        defer { server.stop() }
        let client = try RawSocket(port: server.port)
        client.send("GET http://quantd.example/healthz?a=1 HTTP/1.1\r\nHost: ignored\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.hasSuffix("GET /healthz?a=1 host=quantd.example body="), "\(response)")
    }

    @Test(arguments: ["GET * HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"])
    func anInvalidTargetOrHostGets400(_ request: String) throws {
        let server = try StubServer()
        defer { server.stop() }
        let client = try RawSocket(port: server.port)
        client.send(request)
        let response = try #require(client.readResponse())
        #expect(response.hasPrefix("HTTP/1.1 400"), "\(response)")
    }
}
