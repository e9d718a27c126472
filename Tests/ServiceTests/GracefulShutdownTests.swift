import Foundation
import Synchronization
import Testing

/// shutdown(): idle connections close at once, a request in flight is finished, new
/// connections are refused.
@Suite("graceful shutdown")
struct GracefulShutdownTests {
    @Test("shutdown finishes the in-flight upload, closes the idle socket, then refuses connects")
    func shutdownDrains() throws {
        let server = try TestServer { $0.shutdownGracePeriod = 20 }
        defer { server.stop() }
        let port = server.port

        let idle = try RawHTTPClient(port: port)
        defer { idle.close() }
        try idle.send(RawHTTPClient.requestBytes("GET", "/healthz"))
        #expect(try idle.readResponse().status == 200)

        // In flight: the head is parsed (the 100 proves it) and half the body is sent.
        let model = SafetensorsFixture.standard(seed: 41).bytes
        let upload = try RawHTTPClient(port: port)
        defer { upload.close() }
        try upload.send(RawHTTPClient.requestBytes("POST", "/v1/models", headers: [
            ("Content-Length", "\(model.count)"), ("Expect", "100-continue"),
        ]))
        #expect(try upload.readResponse().status == 100)
        try upload.send(Array(model.prefix(model.count / 2)))

        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            server.shutdown()
            finished.signal()
        }

        #expect(idle.waitForClose(timeout: 10), "the idle keep-alive connection is closed by the shutdown")
        #expect(finished.wait(timeout: .now() + 0.5) == .timedOut, "shutdown waits for the upload in flight")
        try upload.send(Array(model.suffix(from: model.count / 2)))
        let response = try upload.readResponse()
        #expect(response.status == 201, "the in-flight upload completes: \(response.text)")
        #expect(response.closesConnection, "and its connection is not kept alive")
        #expect(finished.wait(timeout: .now() + 30) == .success, "shutdown completes")

        var refused = false
        do { _ = try RawHTTPClient(port: port) } catch RawHTTPError.connect(let e) { refused = e == ECONNREFUSED }
        #expect(refused, "new connections are refused after shutdown")
    }
}
