/// Serialises a response head. The connection decides keep-alive; the encoder adds the
/// framing fields so handlers cannot get them wrong.
enum HTTPResponseEncoder {
    static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Appends the head of `response` to `out`. `bodyLength` is what Content-Length states
    /// (also for HEAD, where no body follows).
    static func encodeHead(_ response: HTTPResponse, bodyLength: UInt64, close: Bool,
                           http10KeepAlive: Bool, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 \(response.status) \(HTTPStatus.reason(response.status))\r\n".utf8)
        for (name, value) in response.headers {
            if HTTPHeaders.equalsIgnoringCase(name, "Content-Length") || HTTPHeaders.equalsIgnoringCase(name, "Connection")
                || HTTPHeaders.equalsIgnoringCase(name, "Transfer-Encoding") { continue }
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        if response.status != 304 && response.status != 204 {
            out.append(contentsOf: "Content-Length: \(bodyLength)\r\n".utf8)
        }
        if close {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if http10KeepAlive {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: "Date: ".utf8)
        out.append(contentsOf: HTTPDate.now().utf8)
        out.append(contentsOf: "\r\n\r\n".utf8)
    }
}
