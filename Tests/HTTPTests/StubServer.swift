import Foundation
import Glibc
@testable import HTTP

/// Answers every request with `<METHOD> <target> host=<Host> body=<body bytes>` as plain text:
/// enough to see what the server made of a request, without any application.
struct EchoResponder: HTTPResponder {
    func bodyDecision(for head: HTTPRequestHead) -> HTTPBodyDecision { .collect(maxBytes: 1 << 20) }

    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        var body: [UInt8] = []
        if case .bytes(let b) = request.body { body = b }
        let head = request.head
        completion(.text(200, "\(head.method) \(head.target) host=\(head.headers["Host"] ?? "-") body=\(String(decoding: body, as: UTF8.self))"))
    }

    func errorResponse(status: Int, detail: String) -> HTTPResponse { .text(status, detail) }
}

/// An HTTPServer on an ephemeral loopback port with `EchoResponder`, stopped by `stop()`.
final class StubServer: Sendable {
    let server: HTTPServer

    init(tls: TLSContext? = nil, _ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var config = HTTPServerConfiguration()
        config.port = 0
        config.eventLoops = 2
        configure(&config)
        server = HTTPServer(configuration: config, responder: EchoResponder(), tls: tls)
        try server.start()
    }

    var port: Int { server.port }

    func stop() { server.shutdown(gracePeriod: 1) }
}

/// A blocking loopback TCP client for raw protocol tests.
final class RawSocket {
    let fd: Int32

    /// Connects from `source` (any loopback address: 127.0.0.2 is another client to the server).
    init(port: Int, timeout: Double = 5, source: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        // deinit closes the socket, also when this initializer throws.
        guard ok == 0 else { throw POSIXError(.ECONNREFUSED) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the peer closes or the receive timeout passes; `timedOut` says which.
    func readAll() -> (text: String, timedOut: Bool) {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += chunk[0..<n]; continue }
            return (String(decoding: out, as: UTF8.self), n < 0)
        }
    }

    /// One response head and a Content-Length body, or nil on timeout/close before it.
    func readResponse() -> String? {
        var out: [UInt8] = []
        var byte: UInt8 = 0
        while !out.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
            guard recv(fd, &byte, 1, 0) == 1 else { return nil }
            out.append(byte)
        }
        let head = String(decoding: out, as: UTF8.self)
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        var body = [UInt8](repeating: 0, count: length)
        var got = 0
        while got < length {
            let n = body.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, length - got, 0) }
            guard n > 0 else { return nil }
            got += n
        }
        return head + String(decoding: body, as: UTF8.self)
    }
}
