import Testing
@testable import HTTP

@Test func looksUpNamesCaseInsensitively() {
    let headers: HTTPHeaders = ["Content-Type": "text/plain", "x-request-id": "abc", "X-Request-ID": "def"]
    #expect(headers["content-type"] == "text/plain")
    #expect(headers["CONTENT-TYPE"] == "text/plain")
    #expect(headers["X-REQUEST-ID"] == "abc", "the first of several")
    #expect(headers.values("x-Request-Id") == ["abc", "def"])
    #expect(headers.contains("CONTENT-type"))
    #expect(!headers.contains("Content-Length"))
    #expect(headers["Content-Typ"] == nil)
    #expect(headers["Content-Type "] == nil)
    #expect(headers.count == 3)
}

struct NamePair: CustomTestStringConvertible, Sendable {
    let a: String
    let b: String
    let equal: Bool
    var testDescription: String { "\(a) \(equal ? "==" : "!=") \(b)" }
}

/// Bytes that differ only in bit 0x20 are the same letter only for A–Z/a–z.
let namePairs: [NamePair] = [
    NamePair(a: "ETag", b: "etag", equal: true),
    NamePair(a: "A-Z", b: "a-z", equal: true),
    NamePair(a: "x-a", b: "x-b", equal: false),
    NamePair(a: "x@", b: "x`", equal: false),
    NamePair(a: "x[", b: "x{", equal: false),
    NamePair(a: "x^", b: "x~", equal: false),
    NamePair(a: "a\u{0D}", b: "a-", equal: false),
    NamePair(a: "x1", b: "x\u{11}", equal: false),
    NamePair(a: "Host", b: "Hosts", equal: false),
    NamePair(a: "", b: "", equal: true),
]

@Test(arguments: namePairs)
func comparesOnlyLettersIgnoringCase(_ p: NamePair) {
    #expect(HTTPHeaders.equalsIgnoringCase(p.a, p.b) == p.equal)
    #expect(HTTPHeaders.equalsIgnoringCase(p.b, p.a) == p.equal)
}

@Test func setReplacesEveryFieldOfThatName() {
    var headers = HTTPHeaders([("Vary", "Accept"), ("ETag", "\"a\""), ("vary", "Origin")])
    headers.set("VARY", "Accept-Encoding")
    #expect(headers.values("Vary") == ["Accept-Encoding"])
    #expect(headers.fields.map(\.name) == ["ETag", "VARY"])
    headers.set("Cache-Control", "no-store")
    #expect(headers["cache-control"] == "no-store")
    #expect(headers.count == 3)
}

@Test func removeDropsEveryFieldOfThatNameOnly() {
    var headers = HTTPHeaders([("A", "1"), ("B", "2"), ("a", "3")])
    headers.remove("a")
    #expect(headers.fields.map(\.name) == ["B"])
    headers.remove("missing")
    #expect(headers.count == 1)
    headers.remove("B")
    #expect(headers.count == 0)
}

@Test func addKeepsOrderAndDuplicates() {
    var headers = HTTPHeaders()
    headers.add("Set-Cookie", "a=1")
    headers.add("Content-Length", "5")
    headers.add("set-cookie", "b=2")
    #expect(headers.map { "\($0.name)=\($0.value)" } == ["Set-Cookie=a=1", "Content-Length=5", "set-cookie=b=2"])
    #expect(headers.values("Set-Cookie") == ["a=1", "b=2"])
}

struct TokensCase: CustomTestStringConvertible, Sendable {
    let values: [String]
    let tokens: [String]
    var testDescription: String { values.description }
}

let tokensCases: [TokensCase] = [
    TokensCase(values: ["close"], tokens: ["close"]),
    TokensCase(values: ["Keep-Alive, Upgrade"], tokens: ["keep-alive", "upgrade"]),
    TokensCase(values: [" gzip ,\tchunked\t"], tokens: ["gzip", "chunked"]),
    TokensCase(values: ["gzip", "Chunked"], tokens: ["gzip", "chunked"]),
    TokensCase(values: [",, a ,, b,"], tokens: ["a", "b"]),
    TokensCase(values: ["", " "], tokens: []),
    TokensCase(values: [], tokens: []),
]

@Test(arguments: tokensCases)
func splitsListValuesIntoTokens(_ c: TokensCase) {
    var headers = HTTPHeaders([("Other", "x, y")])
    for v in c.values { headers.add("connection", v) }
    #expect(headers.tokens("Connection") == c.tokens)
}
