import Foundation
import Testing
@testable import HTTP

/// The connection caps (`maxConnections`, `maxConnectionsPerAddress`): at a cap the connection
/// that has waited longest for a request head makes room; only when every connection is busy
/// does a newcomer get 503.
@Suite struct ConnectionCapTests {
    static let request = "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"
    /// A request whose head is complete and whose body is still arriving: a busy connection.
    static let busy = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nabc"

    @Test func anIdleKeptAliveConnectionMakesRoomForANewClient() throws {
        let server = try StubServer { $0.maxConnections = 2 }
        defer { server.stop() }
        var idle: [RawSocket] = []
        for _ in 0..<2 {
            let client = try RawSocket(port: server.port)
            client.send(Self.request)
            #expect(client.readResponse()?.hasPrefix("HTTP/1.1 200") == true)
            idle.append(client)
            Thread.sleep(forTimeInterval: 0.05)
        }
        let newcomer = try RawSocket(port: server.port)
        newcomer.send(Self.request)
        #expect(newcomer.readResponse()?.hasPrefix("HTTP/1.1 200") == true)
        // The one idle longest was closed; the other still answers.
        #expect(idle[0].readAll().timedOut == false)
        idle[1].send(Self.request)
        #expect(idle[1].readResponse()?.hasPrefix("HTTP/1.1 200") == true)
    }

    @Test func whenEveryConnectionIsBusyANewcomerGets503() throws {
        let server = try StubServer { $0.maxConnections = 2 }
        defer { server.stop() }
        let busy = try (0..<2).map { _ in try RawSocket(port: server.port) }
        for client in busy { client.send(Self.busy) }
        Thread.sleep(forTimeInterval: 0.2)
        let newcomer = try RawSocket(port: server.port)
        let (text, timedOut) = newcomer.readAll()
        #expect(!timedOut)
        #expect(text.hasPrefix("HTTP/1.1 503"), "\(text)")
        #expect(text.contains("Retry-After: 1"))
        #expect(server.server.statistics.refusedConnections.load(ordering: .relaxed) == 1)
    }

    /// Many clients on one address dribbling request heads, as behind a proxy: a client that
    /// sends its request promptly is served every time.
    @Test func slowHeadsOnOneAddressDoNotCrowdOutAPromptClient() throws {
        let server = try StubServer {
            $0.maxConnections = 40
            $0.maxConnectionsPerAddress = 20
            $0.headerReadTimeout = 60
        }
        defer { server.stop() }
        var slow: [RawSocket] = []
        for _ in 0..<120 {
            let client = try RawSocket(port: server.port)
            client.send("GET /healthz HTTP/1.1\r\nHo")
            slow.append(client)
        }
        var served = 0
        for round in 0..<20 {
            // More dribblers arrive between the prompt clients.
            for _ in 0..<5 {
                let client = try RawSocket(port: server.port)
                client.send("GET /slow-\(round) HTTP/1.1\r\n")
                slow.append(client)
            }
            let prompt = try RawSocket(port: server.port)
            prompt.send(Self.request)
            if prompt.readResponse()?.hasPrefix("HTTP/1.1 200") == true { served += 1 }
        }
        #expect(served == 20)
        #expect(server.server.statistics.evictedConnections.load(ordering: .relaxed) >= 100)
    }

    @Test func thePerAddressCapLeavesOtherAddressesAlone() throws {
        let server = try StubServer {
            $0.maxConnections = 100
            $0.maxConnectionsPerAddress = 2
        }
        defer { server.stop() }
        let busy = try (0..<2).map { _ in try RawSocket(port: server.port) }
        for client in busy { client.send(Self.busy) }
        Thread.sleep(forTimeInterval: 0.2)
        let sameAddress = try RawSocket(port: server.port)
        #expect(sameAddress.readAll().text.hasPrefix("HTTP/1.1 503"))
        let otherAddress = try RawSocket(port: server.port, source: "127.0.0.2")
        otherAddress.send(Self.request)
        #expect(otherAddress.readResponse()?.hasPrefix("HTTP/1.1 200") == true)
    }
}
