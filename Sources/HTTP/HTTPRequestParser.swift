import Glibc

/// Incremental, strict HTTP/1.1 request parser (RFC 9112): bytes in, events out, no I/O.
///
/// The caller keeps the unconsumed bytes and passes them again, starting where the last
/// call stopped consuming, with any newly read bytes appended. Each call yields at most one
/// event so the caller can pause between a head and its body (for routing, auth and
/// `100-continue`) and between pipelined requests (to answer them in order). Anything that
/// could let two parsers disagree on where a request ends is rejected rather than repaired.
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable {
        /// Request line plus header fields, in bytes (431 above it).
        public var maxHeaderBytes = 64 * 1024
        public var maxHeaderCount = 256
        public var maxRequestLineBytes = 8 * 1024
        /// A chunk-size line including extensions.
        public var maxChunkLineBytes = 4 * 1024
        public init() {}
    }

    public enum Event: Equatable, Sendable {
        case head(HTTPRequestHead)
        /// Body bytes at this range of the buffer passed to `parse`, already de-chunked.
        case body(Range<Int>)
        case end
    }

    public struct Step: Equatable, Sendable {
        /// Bytes at the start of the buffer that the caller may now drop.
        public var consumed: Int
        /// `nil` means more bytes are needed.
        public var event: Event?
    }

    private enum State: Sendable {
        case head
        case fixedBody(remaining: UInt64)
        case chunkSize
        case chunkData(remaining: UInt64)
        case chunkDataEnd
        case trailers
        case endPending
    }

    public let limits: Limits
    private var state = State.head
    /// How far into the pending head (or trailer) bytes lines have been checked already, so
    /// a head arriving byte by byte is scanned once.
    private var scanned = 0
    private var lineStarts: [Int] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// True between requests: nothing of a next request has been consumed.
    public var isIdle: Bool {
        if case .head = state { return scanned == 0 }
        return false
    }

    public mutating func parse(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) -> Step {
        switch state {
        case .head:
            return try parseHead(buffer)
        case .fixedBody(let remaining):
            guard !buffer.isEmpty else { return Step(consumed: 0, event: nil) }
            let n = Int(min(remaining, UInt64(buffer.count)))
            state = remaining == UInt64(n) ? .endPending : .fixedBody(remaining: remaining - UInt64(n))
            return Step(consumed: n, event: .body(0..<n))
        case .chunkSize:
            return try parseChunkSize(buffer)
        case .chunkData(let remaining):
            guard !buffer.isEmpty else { return Step(consumed: 0, event: nil) }
            let n = Int(min(remaining, UInt64(buffer.count)))
            state = remaining == UInt64(n) ? .chunkDataEnd : .chunkData(remaining: remaining - UInt64(n))
            return Step(consumed: n, event: .body(0..<n))
        case .chunkDataEnd:
            guard buffer.count >= 2 else {
                if buffer.count == 1, buffer[0] != 0x0D { throw .bad("chunk data is longer than its chunk-size") }
                return Step(consumed: 0, event: nil)
            }
            guard buffer[0] == 0x0D, buffer[1] == 0x0A else { throw .bad("chunk data is longer than its chunk-size") }
            state = .chunkSize
            return Step(consumed: 2, event: nil)
        case .trailers:
            return try parseTrailers(buffer)
        case .endPending:
            state = .head
            return Step(consumed: 0, event: .end)
        }
    }

    // MARK: Head

    private mutating func parseHead(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) -> Step {
        // RFC 9112 §2.2: ignore empty lines before the request line.
        if scanned == 0 {
            var skip = 0
            while skip + 1 < buffer.count, buffer[skip] == 0x0D, buffer[skip + 1] == 0x0A { skip += 2 }
            if skip > 0 { return Step(consumed: skip, event: nil) }
        }
        guard let end = try scanLines(buffer, limit: limits.maxHeaderBytes, tooLargeStatus: 431) else {
            // The line's CR may already be in (+ 1), so a line of exactly the limit is not refused early.
            if lineStarts.isEmpty || lineStarts.count == 1, scanned > limits.maxRequestLineBytes + 1 {
                throw HTTPParseError(status: 414, "request line exceeds \(limits.maxRequestLineBytes) bytes")
            }
            return Step(consumed: 0, event: nil)
        }
        let lines = lineStarts
        resetScan()
        // A lone CRLF split across reads: still an ignorable empty line before the request.
        if lines.count < 2 { return Step(consumed: end, event: nil) }
        let head = try makeHead(buffer, lines: lines, end: end)
        switch head.framing {
        case .none, .contentLength(0): state = .endPending
        case .contentLength(let n): state = .fixedBody(remaining: n)
        case .chunked: state = .chunkSize
        }
        return Step(consumed: end, event: .head(head))
    }

    private mutating func resetScan() {
        scanned = 0
        lineStarts.removeAll(keepingCapacity: true)
    }

    /// Finds CRLF-terminated lines up to an empty line. Returns the offset just past the
    /// empty line, or nil when more bytes are needed. Bare LF is refused here; bare CR is
    /// refused when lines are validated.
    private mutating func scanLines(_ buffer: UnsafeRawBufferPointer, limit: Int, tooLargeStatus: Int) throws(HTTPParseError) -> Int? {
        guard let base = buffer.baseAddress else { return nil }
        if lineStarts.isEmpty { lineStarts.append(0) }
        while scanned < buffer.count {
            guard let hit = memchr(base + scanned, 0x0A, buffer.count - scanned) else {
                scanned = buffer.count
                break
            }
            let lf = base.distance(to: UnsafeRawPointer(hit))
            let lineStart = lineStarts[lineStarts.count - 1]
            // First what a feeding that stopped short of this LF would have refused already, so
            // that every split of the same bytes gets the same answer.
            if case .head = state, lineStarts.count == 1, lf > limits.maxRequestLineBytes + 1 {
                throw HTTPParseError(status: 414, "request line exceeds \(limits.maxRequestLineBytes) bytes")
            }
            if lf > limit { throw HTTPParseError(status: tooLargeStatus, "header section exceeds \(limit) bytes") }
            guard lf > lineStart, buffer[lf - 1] == 0x0D else { throw .bad("line ends in a bare LF; HTTP/1.1 lines end in CRLF") }
            scanned = lf + 1
            if lf - 1 == lineStart { return scanned }
            lineStarts.append(scanned)
            if lineStarts.count > limits.maxHeaderCount + 2 {
                throw HTTPParseError(status: tooLargeStatus, "more than \(limits.maxHeaderCount) header fields")
            }
        }
        if scanned > limit {
            throw HTTPParseError(status: tooLargeStatus, "header section exceeds \(limit) bytes")
        }
        return nil
    }

    private func makeHead(_ buffer: UnsafeRawBufferPointer, lines: [Int], end: Int) throws(HTTPParseError) -> HTTPRequestHead {
        if end > limits.maxHeaderBytes {
            throw HTTPParseError(status: 431, "header section exceeds \(limits.maxHeaderBytes) bytes")
        }
        // lines[i] is where line i starts; each ends 2 bytes (CRLF) before the next begins.
        // scanLines has refused a request line over the limit.
        let requestLine = UnsafeRawBufferPointer(rebasing: buffer[lines[0]..<(lines[1] - 2)])
        var (method, target, version) = try Self.parseRequestLine(requestLine)
        var headers = HTTPHeaders()
        for i in 1..<(lines.count - 1) {
            let line = UnsafeRawBufferPointer(rebasing: buffer[lines[i]..<(lines[i + 1] - 2)])
            let (name, value) = try Self.parseField(line)
            headers.add(name, value)
        }
        let hosts = headers.values("Host")
        if hosts.count > 1 { throw .bad("more than one Host header field") }
        if version == .http11, hosts.isEmpty { throw .bad("HTTP/1.1 request without a Host header field") }
        if let host = hosts.first, !Self.isValidAuthority(host) { throw .bad("the Host header field is not a valid host[:port]") }
        switch RequestTargetForm(target) {
        case .origin:
            break
        case .asterisk:
            // RFC 9112 §3.2.4: only OPTIONS asks about the server as a whole.
            guard method == "OPTIONS" else { throw .bad("the request target '*' is only allowed with OPTIONS") }
        case .absolute(let authority, let originForm):
            // RFC 9112 §3.2.2: a server MUST accept the absolute form, and its authority
            // replaces the Host field.
            guard Self.isValidAuthority(authority) else { throw .bad("the request target's authority is not a valid host[:port]") }
            headers.set("Host", authority)
            target = originForm
        case .invalid:
            throw .bad("the request target must be a path starting with '/' or an absolute http(s) URI")
        }
        return HTTPRequestHead(method: method, target: target, version: version, headers: headers,
                               framing: try Self.framing(headers, version: version))
    }

    static func parseRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> (String, String, HTTPRequestHead.Version) {
        guard let sp1 = line.firstIndex(of: 0x20), let sp2 = line[(sp1 + 1)...].firstIndex(of: 0x20) else {
            throw .bad("request line must be 'METHOD target HTTP/1.1'")
        }
        let method = line[..<sp1], target = line[(sp1 + 1)..<sp2], version = line[(sp2 + 1)...]
        guard !method.isEmpty, method.allSatisfy(isTokenByte) else { throw .bad("invalid method") }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .bad("request target is empty or contains spaces or control characters")
        }
        let v: HTTPRequestHead.Version
        switch Array(version) {
        case Array("HTTP/1.1".utf8): v = .http11
        case Array("HTTP/1.0".utf8): v = .http10
        case let other where other.count == 8 && other.starts(with: "HTTP/".utf8)
            && isDigit(other[5]) && other[6] == 0x2E && isDigit(other[7]):
            throw HTTPParseError(status: 505, "only HTTP/1.0 and HTTP/1.1 are supported")
        default:
            throw .bad("malformed HTTP version")
        }
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), v)
    }

    static func parseField(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> (String, String) {
        guard let first = line.first else { throw .bad("empty header line") }
        if first == 0x20 || first == 0x09 { throw .bad("obsolete line folding is not allowed") }
        guard let colon = line.firstIndex(of: 0x3A) else { throw .bad("header line without a colon") }
        let name = line[..<colon]
        guard !name.isEmpty else { throw .bad("empty header field name") }
        if let last = name.last, last == 0x20 || last == 0x09 {
            throw .bad("whitespace between header field name and colon")
        }
        guard name.allSatisfy(isTokenByte) else { throw .bad("invalid character in header field name") }
        var lo = colon + 1, hi = line.count
        while lo < hi, line[lo] == 0x20 || line[lo] == 0x09 { lo += 1 }
        while hi > lo, line[hi - 1] == 0x20 || line[hi - 1] == 0x09 { hi -= 1 }
        let value = line[lo..<hi]
        guard value.allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F }) else {
            throw .bad("header field '\(String(decoding: name, as: UTF8.self))' contains NUL, CR, LF or another control character")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    static func framing(_ headers: HTTPHeaders, version: HTTPRequestHead.Version) throws(HTTPParseError) -> HTTPRequestHead.BodyFraming {
        let lengths = headers.values("Content-Length")
        if headers.contains("Transfer-Encoding") {
            if !lengths.isEmpty { throw .bad("Content-Length and Transfer-Encoding together are not allowed") }
            if version == .http10 { throw .bad("Transfer-Encoding is not allowed in HTTP/1.0") }
            let codings = headers.tokens("Transfer-Encoding")
            guard codings.last == "chunked" else { throw .bad("Transfer-Encoding must end in chunked") }
            guard codings.count == 1 else {
                throw HTTPParseError(status: 501, "only 'Transfer-Encoding: chunked' is supported")
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        var result: UInt64?
        for element in lengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let digits = element.trimmingSpaces()
            guard !digits.isEmpty, digits.utf8.allSatisfy(isDigit) else {
                throw .bad("Content-Length must be digits only")
            }
            var n: UInt64 = 0
            for d in digits.utf8 {
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(d - 0x30))
                if o1 || o2 || s > UInt64(Int64.max) { throw .bad("Content-Length is too large") }
                n = s
            }
            if let r = result, r != n { throw .bad("conflicting Content-Length values") }
            result = n
        }
        return .contentLength(result!)
    }

    // MARK: Chunked

    private mutating func parseChunkSize(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) -> Step {
        // The limit applies to the line without its CRLF, however the line was split into reads.
        guard let lf = buffer.firstIndex(of: 0x0A) else {
            if buffer.count > limits.maxChunkLineBytes + 1 { throw .bad("chunk-size line exceeds \(limits.maxChunkLineBytes) bytes") }
            return Step(consumed: 0, event: nil)
        }
        guard lf > 0, buffer[lf - 1] == 0x0D else { throw .bad("chunk-size line ends in a bare LF") }
        if lf - 1 > limits.maxChunkLineBytes { throw .bad("chunk-size line exceeds \(limits.maxChunkLineBytes) bytes") }
        let line = buffer[..<(lf - 1)]
        var size: UInt64 = 0, digits = 0, i = 0
        while i < line.count, let v = Self.hexValue(line[i]) {
            let (m, o) = size.multipliedReportingOverflow(by: 16)
            if o { throw .bad("chunk size overflows") }
            size = m | UInt64(v)
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw .bad("chunk size is not hexadecimal") }
        if size > UInt64(Int64.max) { throw .bad("chunk size overflows") }
        // Whatever follows the size must be a chunk extension: BWS ";" …, no control characters.
        var rest = line[i...].drop { $0 == 0x20 || $0 == 0x09 }
        if let f = rest.first {
            guard f == 0x3B else { throw .bad("invalid character after chunk size") }
            rest = rest.dropFirst()
            guard rest.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw .bad("invalid chunk extension")
            }
        }
        state = size == 0 ? .trailers : .chunkData(remaining: size)
        return Step(consumed: lf + 1, event: nil)
    }

    private mutating func parseTrailers(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) -> Step {
        guard let end = try scanLines(buffer, limit: limits.maxHeaderBytes, tooLargeStatus: 431) else {
            return Step(consumed: 0, event: nil)
        }
        if end > limits.maxHeaderBytes {
            throw HTTPParseError(status: 431, "trailer section exceeds \(limits.maxHeaderBytes) bytes")
        }
        let lines = lineStarts
        resetScan()
        // Trailer fields are validated and dropped: nothing here is allowed to depend on them.
        if lines.count > 1 {
            for i in 0..<(lines.count - 1) {
                _ = try Self.parseField(UnsafeRawBufferPointer(rebasing: buffer[lines[i]..<(lines[i + 1] - 2)]))
            }
        }
        state = .endPending
        return Step(consumed: end, event: nil)
    }

    // MARK: Characters

    /// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a registered name or IPv4
    /// address of unreserved, pct-encoded and sub-delims characters, or a bracketed IP literal;
    /// an empty value is allowed.
    static func isValidAuthority(_ value: String) -> Bool {
        var bytes = Substring(value).utf8[...]
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ hexValue($0) != nil || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".")
                || isUnreserved($0) || isSubDelim($0) }) else { return false }
            bytes = bytes[bytes.index(after: close)...]
        } else {
            let end = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
            guard bytes[..<end].allSatisfy({ isUnreserved($0) || isSubDelim($0) || $0 == UInt8(ascii: "%") }) else { return false }
            bytes = bytes[end...]
        }
        guard let colon = bytes.first else { return true }
        let port = bytes.dropFirst()
        return colon == UInt8(ascii: ":") && port.count <= 5 && port.allSatisfy(isDigit)
    }

    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: false
        }
    }

    static func isSubDelim(_ b: UInt8) -> Bool {
        Array("!$&'()*+,;=".utf8).contains(b)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    /// tchar from RFC 9110 §5.6.2.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}

extension HTTPRequestHead: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        a.method == b.method && a.target == b.target && a.version == b.version && a.framing == b.framing
            && a.headers.fields.elementsEqual(b.headers.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}
