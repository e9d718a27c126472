import Foundation
import Glibc

/// A response as read off the wire, with the header fields in the order they came.
struct HTTPTestResponse {
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object; empty when it is not one.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    /// Whether the server announced it will close the connection after this response.
    var closesConnection: Bool {
        header("Connection")?.lowercased().split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "close" } ?? false
    }
}

enum RawHTTPError: Error, CustomStringConvertible {
    case connect(Int32)
    case send(Int32)
    case receive(Int32)
    case timedOut
    case closedBeforeResponse([UInt8])
    case malformed(String)

    var description: String {
        switch self {
        case .connect(let e): "connect failed: \(String(cString: strerror(e)))"
        case .send(let e): "send failed: \(String(cString: strerror(e)))"
        case .receive(let e): "recv failed: \(String(cString: strerror(e)))"
        case .timedOut: "timed out waiting for the server"
        case .closedBeforeResponse(let b): "connection closed after \(b.count) bytes of a response: \(String(decoding: b.prefix(200), as: UTF8.self))"
        case .malformed(let why): "malformed response: \(why)"
        }
    }
}

/// A blocking TCP client for 127.0.0.1 that sends exactly the bytes it is given and parses
/// responses framed by Content-Length, so tests control every byte on the wire (pipelining,
/// half-sent bodies, malformed heads, 100-continue ordering).
final class RawHTTPClient {
    private var fd: Int32
    private var buffer: [UInt8] = []
    private(set) var peerClosed = false

    /// Connects; every later send or receive gives up after `timeout` seconds.
    init(port: Int, timeout: Double = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError.connect(errno) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            fd = -1
            throw RawHTTPError.connect(e)
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Ends our sending side, as a client that has nothing more to say.
    func shutdownWrite() {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw RawHTTPError.timedOut }
                throw RawHTTPError.send(errno)
            }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws -> Bool {
        if peerClosed { return false }
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
            if n == 0 {
                peerClosed = true
                return false
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw RawHTTPError.timedOut }
            if errno == ECONNRESET {
                peerClosed = true
                return false
            }
            throw RawHTTPError.receive(errno)
        }
    }

    /// Reads one response. Interim (1xx) responses are returned on their own; `headRequest`
    /// says the response has no body whatever its Content-Length states.
    func readResponse(headRequest: Bool = false) throws -> HTTPTestResponse {
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            headEnd = Self.find(terminator, in: buffer)
            if headEnd == nil, try !fill() { throw RawHTTPError.closedBeforeResponse(buffer) }
        }
        let headBytes = buffer[..<headEnd!]
        var lines = String(decoding: headBytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw RawHTTPError.malformed("status line '\(statusLine)'")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw RawHTTPError.malformed("header line '\(line)'") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = HTTPTestResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers, body: [])
        let bodyStart = headEnd! + terminator.count
        var length = 0
        if !(100..<200).contains(status), status != 204, status != 304, !headRequest {
            guard let declared = response.header("Content-Length"), let n = Int(declared) else {
                throw RawHTTPError.malformed("response \(status) without Content-Length")
            }
            length = n
        }
        while buffer.count - bodyStart < length {
            if try !fill() { throw RawHTTPError.closedBeforeResponse(buffer) }
        }
        response.body = Array(buffer[bodyStart..<(bodyStart + length)])
        buffer.removeFirst(bodyStart + length)
        return response
    }

    /// True when the server closes the connection (EOF or reset) within `timeout` seconds
    /// without sending anything more; false if bytes arrive or the time runs out.
    func waitForClose(timeout: Double = 10) -> Bool {
        if !buffer.isEmpty { return false }
        if peerClosed { return true }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        if n == 0 || (n < 0 && errno == ECONNRESET) {
            peerClosed = true
            return true
        }
        if n == 1 { buffer.append(byte) }
        return false
    }

    /// Whether bytes have arrived that no response read has consumed yet, waiting up to `timeout`.
    func hasUnreadBytes(within timeout: Double) -> Bool {
        if !buffer.isEmpty { return true }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return false }
        return (try? fill()) == true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    // MARK: Building requests

    static func requestBytes(_ method: String, _ path: String, headers: [(String, String)] = [],
                             body: [UInt8]? = nil, version: String = "HTTP/1.1") -> [UInt8] {
        var head = "\(method) \(path) \(version)\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, !headers.contains(where: { $0.0.lowercased() == "content-length" || $0.0.lowercased() == "transfer-encoding" }) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }

    /// One request on a fresh connection that is closed afterwards.
    static func request(port: Int, _ method: String, _ path: String, headers: [(String, String)] = [],
                        body: [UInt8]? = nil) throws -> HTTPTestResponse {
        let client = try RawHTTPClient(port: port)
        defer { client.close() }
        try client.send(requestBytes(method, path, headers: headers + [("Connection", "close")], body: body))
        var response = try client.readResponse(headRequest: method == "HEAD")
        while (100..<200).contains(response.status) { response = try client.readResponse(headRequest: method == "HEAD") }
        return response
    }
}
