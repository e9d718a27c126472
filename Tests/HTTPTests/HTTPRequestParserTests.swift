import Testing
@testable import HTTP

// MARK: Driver

/// One request as the parser reported it: its head, its de-chunked body, and whether `.end` came.
struct ParsedRequest: Equatable {
    var head: HTTPRequestHead
    var body: [UInt8] = []
    var ended = false
}

/// Everything one feeding of a byte stream produced. Errors are compared by status only, since
/// two feedings may legitimately trip different checks for the same fault.
struct ParseOutcome: Equatable, CustomStringConvertible {
    var requests: [ParsedRequest] = []
    var errorStatus: Int?
    /// Bytes handed over but never consumed (left at 0 after an error, when it depends on the feeding).
    var unconsumed = 0

    var description: String {
        let heads = requests.map { "\($0.head.method) \($0.head.target) body=\($0.body.count) ended=\($0.ended)" }
        return "requests=\(heads) error=\(errorStatus.map(String.init) ?? "none") unconsumed=\(unconsumed)"
    }
}

/// Feeds `chunks` in order the way a connection does: keeps unconsumed bytes, appends each new
/// read, and calls `parse` until it asks for more. Protocol violations by the parser (body before
/// head, ranges outside what it consumed, `.end` that consumes bytes) are recorded as issues.
func feed(_ chunks: [ArraySlice<UInt8>], limits: HTTPRequestParser.Limits) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var pending: [UInt8] = []
    var outcome = ParseOutcome()
    for chunk in chunks {
        pending += chunk
        while true {
            let step: HTTPRequestParser.Step
            do {
                step = try parse(&parser, pending[...])
            } catch {
                outcome.errorStatus = error.status
                return outcome
            }
            #expect(step.consumed >= 0 && step.consumed <= pending.count)
            switch step.event {
            case .head(let head)?:
                if let last = outcome.requests.last, !last.ended { Issue.record("head before the previous request ended") }
                outcome.requests.append(ParsedRequest(head: head))
            case .body(let range)?:
                #expect(range.lowerBound >= 0 && range.upperBound <= step.consumed, "body range outside consumed bytes")
                if outcome.requests.isEmpty || outcome.requests[outcome.requests.count - 1].ended {
                    Issue.record("body outside a request")
                } else {
                    outcome.requests[outcome.requests.count - 1].body += pending[range]
                }
            case .end?:
                #expect(step.consumed == 0, ".end must not consume bytes")
                if outcome.requests.isEmpty || outcome.requests[outcome.requests.count - 1].ended {
                    Issue.record(".end outside a request")
                } else {
                    outcome.requests[outcome.requests.count - 1].ended = true
                }
            case nil:
                break
            }
            pending.removeFirst(step.consumed)
            if step.consumed == 0 && step.event == nil { break }
        }
    }
    outcome.unconsumed = pending.count
    return outcome
}

/// Calls `parse` once, keeping the typed error that `withUnsafeBytes` would erase.
func parse(_ parser: inout HTTPRequestParser, _ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequestParser.Step {
    let result = bytes.withUnsafeBytes { buffer in Result { () throws(HTTPParseError) in try parser.parse(buffer) } }
    return try result.get()
}

/// A reproducible pseudo-random source, so a failing split can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Parses `bytes` whole, byte by byte, and at random split points, checks that every feeding
/// agrees, and returns the common outcome.
func parseAllWays(_ bytes: [UInt8], limits: HTTPRequestParser.Limits = .init(),
                  sourceLocation: SourceLocation = #_sourceLocation) -> ParseOutcome {
    let whole = feed([bytes[...]], limits: limits)
    let byteByByte = feed(bytes.indices.map { bytes[$0...$0] }, limits: limits)
    #expect(byteByByte == whole, "byte by byte differs from whole", sourceLocation: sourceLocation)
    for seed in UInt64(1)...24 {
        var rng = SplitMix64(state: seed)
        var cuts = Set<Int>()
        for _ in 0..<Int.random(in: 1...6, using: &rng) where bytes.count > 1 {
            cuts.insert(Int.random(in: 1..<bytes.count, using: &rng))
        }
        let points = [0] + cuts.sorted() + [bytes.count]
        let chunks = zip(points, points.dropFirst()).map { bytes[$0..<$1] }
        let split = feed(chunks, limits: limits)
        #expect(split == whole, "split at \(cuts.sorted()) differs from whole", sourceLocation: sourceLocation)
    }
    return whole
}

func limits(headerBytes: Int? = nil, headerCount: Int? = nil, requestLine: Int? = nil, chunkLine: Int? = nil) -> HTTPRequestParser.Limits {
    var l = HTTPRequestParser.Limits()
    if let headerBytes { l.maxHeaderBytes = headerBytes }
    if let headerCount { l.maxHeaderCount = headerCount }
    if let requestLine { l.maxRequestLineBytes = requestLine }
    if let chunkLine { l.maxChunkLineBytes = chunkLine }
    return l
}

// MARK: Valid requests

struct ExpectedRequest: Sendable {
    var method = "GET"
    var target = "/"
    var version = HTTPRequestHead.Version.http11
    var framing = HTTPRequestHead.BodyFraming.none
    var body = ""
    var keepAlive = true
    /// Fields that must be present with exactly these values, in this order for the name.
    var headers: [(String, [String])] = []
}

struct ValidCase: CustomTestStringConvertible, Sendable {
    let name: String
    let raw: [UInt8]
    let limits: HTTPRequestParser.Limits
    let expected: [ExpectedRequest]
    var testDescription: String { name }

    init(_ name: String, _ raw: String, limits: HTTPRequestParser.Limits = .init(), _ expected: ExpectedRequest...) {
        self.init(name, Array(raw.utf8), limits: limits, expected)
    }

    init(_ name: String, _ raw: [UInt8], limits: HTTPRequestParser.Limits = .init(), _ expected: [ExpectedRequest]) {
        self.name = name
        self.raw = raw
        self.limits = limits
        self.expected = expected
    }
}

let longTarget = "/" + String(repeating: "a", count: 31)  // request line "GET <target> HTTP/1.1" = 45 bytes

let validRequests: [ValidCase] = [
    ValidCase("GET with Host", "GET /v1/models?limit=2 HTTP/1.1\r\nHost: quantd.local\r\n\r\n",
              ExpectedRequest(target: "/v1/models?limit=2", headers: [("host", ["quantd.local"])])),
    ValidCase("HTTP/1.0 without Host closes by default", "GET / HTTP/1.0\r\n\r\n",
              ExpectedRequest(version: .http10, keepAlive: false)),
    ValidCase("HTTP/1.0 with Connection: keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
              ExpectedRequest(version: .http10, keepAlive: true)),
    ValidCase("HTTP/1.0 with keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
              ExpectedRequest(version: .http10, keepAlive: false)),
    ValidCase("HTTP/1.1 with Connection: close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, Close\r\n\r\n",
              ExpectedRequest(keepAlive: false)),
    ValidCase("HTTP/1.1 close in a second Connection field", "GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\nConnection: close\r\n\r\n",
              ExpectedRequest(keepAlive: false)),
    ValidCase("Content-Length body", "POST /v1/jobs HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
              ExpectedRequest(method: "POST", target: "/v1/jobs", framing: .contentLength(11), body: "hello world")),
    ValidCase("Content-Length zero", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
              ExpectedRequest(method: "POST", framing: .contentLength(0))),
    ValidCase("body bytes that look like a request", "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\n",
              ExpectedRequest(method: "PUT", target: "/x", framing: .contentLength(18), body: "GET / HTTP/1.1\r\n\r\n")),
    ValidCase("chunked body", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
              ExpectedRequest(method: "POST", framing: .chunked, body: "hello world")),
    ValidCase("chunked with extensions, uppercase hex, leading zeros",
              "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                  + "A;name=value\r\n0123456789\r\n0003 ; q=\"a;b\"\r\nabc\r\n0;last\r\n\r\n",
              ExpectedRequest(method: "POST", framing: .chunked, body: "0123456789abc")),
    ValidCase("chunked with trailers", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + "3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\nX-Count: 1\r\n\r\n",
              ExpectedRequest(method: "POST", framing: .chunked, body: "abc")),
    ValidCase("chunk data containing CRLF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\r\n\r\n\r\n0\r\n\r\n",
              ExpectedRequest(method: "POST", framing: .chunked, body: "\r\n\r\n")),
    ValidCase("absolute-form target: its path is routed and its authority replaces Host",
              "GET http://quantd.example:8080/healthz?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
              ExpectedRequest(target: "/healthz?x=1", headers: [("Host", ["quantd.example:8080"])])),
    ValidCase("absolute-form target with an upper-case scheme and no path",
              "GET HTTPS://[::1]:9 HTTP/1.1\r\nHost: [::1]:9\r\n\r\n",
              ExpectedRequest(target: "/", headers: [("Host", ["[::1]:9"])])),
    ValidCase("OPTIONS with the asterisk form", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
              ExpectedRequest(method: "OPTIONS", target: "*")),
    ValidCase("Host with a port, an IPv4 address, an empty value",
              "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\nGET / HTTP/1.1\r\nHost:\r\n\r\n",
              ExpectedRequest(headers: [("Host", ["127.0.0.1:8080"])]), ExpectedRequest(headers: [("Host", [""])])),
    ValidCase("leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", ExpectedRequest()),
    ValidCase("two pipelined requests",
              "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz",
              ExpectedRequest(target: "/a"),
              ExpectedRequest(method: "POST", target: "/b", framing: .contentLength(3), body: "xyz")),
    ValidCase("three pipelined requests",
              "POST /1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
                  + "\r\nGET /2 HTTP/1.0\r\n\r\n"
                  + "DELETE /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
              ExpectedRequest(method: "POST", target: "/1", framing: .chunked, body: "ab"),
              ExpectedRequest(target: "/2", version: .http10, keepAlive: false),
              ExpectedRequest(method: "DELETE", target: "/3", keepAlive: false)),
    ValidCase("obs-text in a header value", [UInt8]("GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf".utf8) + [0xC3, 0xA9, 0x20, 0xFF]
                  + [UInt8]("\r\n\r\n".utf8),
              [ExpectedRequest(headers: [("X-Name", ["café \u{FFFD}"])])]),
    ValidCase("value whitespace trimmed, inner kept", "GET / HTTP/1.1\r\nHost:  \th \r\nX-A:\ta  b\t\r\nX-Empty:\r\n\r\n",
              ExpectedRequest(headers: [("Host", ["h"]), ("x-a", ["a  b"]), ("X-Empty", [""])])),
    ValidCase("duplicate identical Content-Length in one field", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
              ExpectedRequest(method: "POST", framing: .contentLength(5), body: "hello")),
    ValidCase("duplicate identical Content-Length fields", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello",
              ExpectedRequest(method: "POST", framing: .contentLength(5), body: "hello")),
    ValidCase("request line exactly at its limit", "GET \(longTarget) HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits(requestLine: 45),
              ExpectedRequest(target: longTarget)),
    ValidCase("header section exactly at its limit", "GET / HTTP/1.1\r\nHost: h\r\nX: 123456\r\n\r\n", limits: limits(headerBytes: 38),
              ExpectedRequest(headers: [("X", ["123456"])])),
    ValidCase("exactly the maximum number of fields", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits(headerCount: 3),
              ExpectedRequest()),
    ValidCase("chunk-size line exactly at its limit",
              "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;abcdefgh\r\nabc\r\n0\r\n\r\n", limits: limits(chunkLine: 10),
              ExpectedRequest(method: "POST", framing: .chunked, body: "abc")),
]

@Test(arguments: validRequests)
func parsesValidRequest(_ c: ValidCase) throws {
    let outcome = parseAllWays(c.raw, limits: c.limits)
    #expect(outcome.errorStatus == nil)
    #expect(outcome.unconsumed == 0)
    try #require(outcome.requests.count == c.expected.count)
    for (got, want) in zip(outcome.requests, c.expected) {
        #expect(got.ended)
        #expect(got.head.method == want.method)
        #expect(got.head.target == want.target)
        #expect(got.head.version == want.version)
        #expect(got.head.framing == want.framing)
        #expect(got.head.hasBody == !want.body.isEmpty)
        #expect(got.body == Array(want.body.utf8))
        #expect(got.head.keepAlive == want.keepAlive)
        for (name, values) in want.headers {
            #expect(got.head.headers.values(name) == values, "header \(name)")
        }
    }
}

@Test func headKeepsFieldsInOrderWithOriginalCase() throws {
    let outcome = parseAllWays(Array("GET /p?q=1 HTTP/1.1\r\nhost: h\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n\r\n".utf8))
    let head = try #require(outcome.requests.first?.head)
    #expect(head.headers.fields.map(\.name) == ["host", "X-B", "x-a", "X-B"])
    #expect(head.headers.fields.map(\.value) == ["h", "2", "1", "3"])
    #expect(head.path == "/p")
    #expect(head.query == "q=1")
}

// MARK: Invalid requests

struct InvalidCase: CustomTestStringConvertible, Sendable {
    let name: String
    let raw: [UInt8]
    let status: Int
    let limits: HTTPRequestParser.Limits
    var testDescription: String { "\(name) → \(status)" }

    init(_ name: String, _ raw: String, _ status: Int, limits: HTTPRequestParser.Limits = .init()) {
        self.init(name, Array(raw.utf8), status, limits: limits)
    }

    init(_ name: String, _ raw: [UInt8], _ status: Int, limits: HTTPRequestParser.Limits = .init()) {
        self.name = name
        self.raw = raw
        self.status = status
        self.limits = limits
    }
}

/// A request whose only header fields besides Host are `fields`, followed by `body`.
func post(_ fields: String, _ body: String = "", version: String = "HTTP/1.1") -> String {
    "POST / \(version)\r\nHost: h\r\n\(fields)\r\n\(body)"
}

let chunkedPost = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

let invalidRequests: [InvalidCase] = [
    InvalidCase("Content-Length with Transfer-Encoding", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400),
    InvalidCase("Transfer-Encoding before Content-Length", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"), 400),
    InvalidCase("Content-Length not digits", post("Content-Length: abc\r\n"), 400),
    InvalidCase("Content-Length hex", post("Content-Length: 0x5\r\n", "hello"), 400),
    InvalidCase("Content-Length with plus", post("Content-Length: +5\r\n", "hello"), 400),
    InvalidCase("Content-Length negative", post("Content-Length: -5\r\n", "hello"), 400),
    InvalidCase("Content-Length with inner space", post("Content-Length: 5 5\r\n", "hello"), 400),
    InvalidCase("Content-Length empty", post("Content-Length:\r\n"), 400),
    InvalidCase("Content-Length empty list element", post("Content-Length: 5,,5\r\n", "hello"), 400),
    InvalidCase("Content-Length different values in one field", post("Content-Length: 5, 6\r\n", "hello!"), 400),
    InvalidCase("Content-Length different values in two fields", post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), 400),
    InvalidCase("Content-Length overflowing UInt64", post("Content-Length: 99999999999999999999\r\n"), 400),
    InvalidCase("Content-Length above Int64.max", post("Content-Length: 9223372036854775808\r\n"), 400),
    InvalidCase("chunk size of 17 hex digits", chunkedPost + "10000000000000000\r\nx\r\n0\r\n\r\n", 400),
    InvalidCase("chunk size above Int64.max", chunkedPost + "8000000000000000\r\nx\r\n0\r\n\r\n", 400),
    InvalidCase("chunk size not hex", chunkedPost + "zz\r\nhello\r\n0\r\n\r\n", 400),
    InvalidCase("chunk size empty", chunkedPost + "\r\nhello\r\n0\r\n\r\n", 400),
    InvalidCase("chunk size with sign", chunkedPost + "+5\r\nhello\r\n0\r\n\r\n", 400),
    InvalidCase("chunk size followed by garbage", chunkedPost + "5 5\r\nhello\r\n0\r\n\r\n", 400),
    InvalidCase("chunk extension with a control character", chunkedPost + "5;a\u{01}b\r\nhello\r\n0\r\n\r\n", 400),
    InvalidCase("chunk data not followed by CRLF", chunkedPost + "3\r\nabcXX0\r\n\r\n", 400),
    InvalidCase("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    InvalidCase("Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    InvalidCase("Host with a non-numeric port", "GET / HTTP/1.1\r\nHost: a:http\r\n\r\n", 400),
    InvalidCase("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
    InvalidCase("Host with an unclosed IP literal", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    InvalidCase("asterisk form with GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("authority form", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 400),
    InvalidCase("absolute form of another scheme", "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("absolute form with userinfo", "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("absolute form with an invalid authority", "GET http://a{b/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("chunk data longer than its size", chunkedPost + "5\r\nhelloX\r\n0\r\n\r\n", 400),
    InvalidCase("chunk data followed by bare LF", chunkedPost + "5\r\nhello\n0\r\n\r\n", 400),
    InvalidCase("chunk-size line ending in bare LF", chunkedPost + "5\nhello\r\n0\r\n\r\n", 400),
    InvalidCase("chunk-size line over its limit", chunkedPost + "3;abcdefghi\r\nabc\r\n0\r\n\r\n", 400, limits: limits(chunkLine: 10)),
    InvalidCase("obs-fold in a trailer", chunkedPost + "0\r\nX: a\r\n b\r\n\r\n", 400),
    InvalidCase("trailer section over the limit", chunkedPost + "0\r\nX-Trailer: " + String(repeating: "t", count: 80) + "\r\n\r\n",
                431, limits: limits(headerBytes: 64)),
    InvalidCase("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    InvalidCase("tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400),
    InvalidCase("obs-fold continuation line", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n  continued\r\n\r\n", 400),
    InvalidCase("obs-fold with a tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tcontinued\r\n\r\n", 400),
    InvalidCase("first header line folded", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400),
    InvalidCase("bare CR in a value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400),
    InvalidCase("bare CR in the request line", "GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("bare LF line endings", "GET / HTTP/1.1\nHost: h\n\n", 400),
    InvalidCase("bare LF after a header", "GET / HTTP/1.1\r\nHost: h\nX-A: 1\r\n\r\n", 400),
    InvalidCase("bare LF as the final empty line", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400),
    InvalidCase("NUL in a value", [UInt8]("GET / HTTP/1.1\r\nHost: h\r\nX-A: a".utf8) + [0] + [UInt8]("b\r\n\r\n".utf8), 400),
    InvalidCase("DEL in a value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{7F}\r\n\r\n", 400),
    InvalidCase("header line without a colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
    InvalidCase("empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400),
    InvalidCase("non-token character in a field name", "GET / HTTP/1.1\r\nHost: h\r\nX(A): v\r\n\r\n", 400),
    InvalidCase("missing Host on HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    InvalidCase("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    InvalidCase("two Host fields on HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
    InvalidCase("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    InvalidCase("HTTP/3.0", "GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505),
    InvalidCase("garbage version", "GET / HTTP/x.y\r\nHost: h\r\n\r\n", 400),
    InvalidCase("lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("version with trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
    InvalidCase("missing version", "GET /\r\nHost: h\r\n\r\n", 400),
    InvalidCase("two spaces before the target", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("space inside the target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("non-token method", "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    InvalidCase("header section over the limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + String(repeating: "p", count: 80) + "\r\n\r\n",
                431, limits: limits(headerBytes: 64)),
    InvalidCase("header section one byte over the limit", "GET / HTTP/1.1\r\nHost: h\r\nX: 1234567\r\n\r\n", 431, limits: limits(headerBytes: 38)),
    InvalidCase("too many fields", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, limits: limits(headerCount: 3)),
    InvalidCase("request line over the limit", "GET \(longTarget)b HTTP/1.1\r\nHost: h\r\n\r\n", 414, limits: limits(requestLine: 45)),
    InvalidCase("request line far over the limit", "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: h\r\n\r\n",
                414, limits: limits(requestLine: 64)),
    InvalidCase("Transfer-Encoding gzip, chunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 501),
    InvalidCase("Transfer-Encoding gzip then chunked in two fields", post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 501),
    InvalidCase("Transfer-Encoding chunked on HTTP/1.0", post("Transfer-Encoding: chunked\r\n", "0\r\n\r\n", version: "HTTP/1.0"), 400),
    InvalidCase("Transfer-Encoding not ending in chunked", post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"), 400),
    InvalidCase("Transfer-Encoding gzip only", post("Transfer-Encoding: gzip\r\n"), 400),
    InvalidCase("Transfer-Encoding empty", post("Transfer-Encoding:\r\n"), 400),
    InvalidCase("second pipelined request invalid", "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 400),
]

@Test(arguments: invalidRequests)
func rejectsInvalidRequest(_ c: InvalidCase) {
    let outcome = parseAllWays(c.raw, limits: c.limits)
    #expect(outcome.errorStatus == c.status)
}

@Test func requestsBeforeAnInvalidOneAreStillDelivered() {
    let outcome = parseAllWays(Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/9.9\r\nHost: h\r\n\r\n".utf8))
    #expect(outcome.requests.map(\.head.target) == ["/a"])
    #expect(outcome.requests.first?.ended == true)
    #expect(outcome.errorStatus == 505)
}

@Test func errorCarriesStatusAndReason() {
    var parser = HTTPRequestParser()
    let raw = Array("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".utf8)
    do {
        let s = try parse(&parser, raw[...])
        Issue.record("expected an error, got \(s)")
    } catch {
        #expect(error.status == 400)
        #expect(error.reason.contains("Host"))
    }
}

// MARK: Step contract

@Test func isIdleOnlyBetweenRequests() throws {
    var parser = HTTPRequestParser()
    #expect(parser.isIdle)

    let request = Array("\r\nPOST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok".utf8)
    var s = try parse(&parser, request[...])
    #expect(s == .init(consumed: 2, event: nil), "a leading empty line is skipped on its own")
    #expect(parser.isIdle, "an empty line before the request line is not part of a request")

    s = try parse(&parser, request[2..<6])
    #expect(s == .init(consumed: 0, event: nil))
    #expect(!parser.isIdle, "part of a request line has been seen")

    s = try parse(&parser, request[2...])
    guard case .head? = s.event else { Issue.record("expected a head, got \(String(describing: s.event))"); return }
    #expect(!parser.isIdle)
    var rest = request[(2 + s.consumed)...]

    s = try parse(&parser, rest)
    #expect(s == .init(consumed: 2, event: .body(0..<2)))
    #expect(!parser.isIdle, "the request has not ended until .end")
    rest = rest.dropFirst(s.consumed)

    s = try parse(&parser, rest)
    #expect(s == .init(consumed: 0, event: .end))
    #expect(parser.isIdle)
}

@Test func bodylessRequestEndsWithoutConsuming() throws {
    var parser = HTTPRequestParser()
    let first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    let bytes = Array((first + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n").utf8)

    var s = try parse(&parser, bytes[...])
    #expect(s.consumed == first.utf8.count, "exactly the first head is consumed")
    guard case .head(let a)? = s.event else { Issue.record("expected a head"); return }
    #expect(a.target == "/a")

    s = try parse(&parser, bytes[s.consumed...])
    #expect(s == .init(consumed: 0, event: .end))

    s = try parse(&parser, bytes[first.utf8.count...])
    guard case .head(let b)? = s.event else { Issue.record("expected the second head"); return }
    #expect(b.target == "/b")
    #expect(s.consumed == bytes.count - first.utf8.count)
}

@Test func bodyNeverReachesIntoTheNextRequest() throws {
    var parser = HTTPRequestParser()
    let bytes = Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n".utf8)
    let head = try parse(&parser, bytes[...])
    let body = try parse(&parser, bytes[head.consumed...])
    #expect(body == .init(consumed: 3, event: .body(0..<3)))
    #expect(try parse(&parser, bytes[(head.consumed + 3)...]) == .init(consumed: 0, event: .end))
}

@Test func emptyBufferAsksForMore() throws {
    var parser = HTTPRequestParser()
    #expect(try parse(&parser, []) == .init(consumed: 0, event: nil))
    #expect(parser.isIdle)
}
