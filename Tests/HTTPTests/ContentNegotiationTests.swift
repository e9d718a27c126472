import Testing
@testable import HTTP

struct AcceptEncodingCase: CustomTestStringConvertible, Sendable {
    let header: String?
    let gzip: Bool
    var testDescription: String { "\(header.map { "'\($0)'" } ?? "nil") → \(gzip)" }

    init(_ header: String?, _ gzip: Bool) {
        self.header = header
        self.gzip = gzip
    }
}

let acceptEncodingCases: [AcceptEncodingCase] = [
    AcceptEncodingCase(nil, false),
    AcceptEncodingCase("", false),
    AcceptEncodingCase("gzip", true),
    AcceptEncodingCase("GZIP", true),
    AcceptEncodingCase("x-gzip", true),
    AcceptEncodingCase("gzip;q=0", false),
    AcceptEncodingCase("gzip; q=0.000", false),
    AcceptEncodingCase("gzip;Q=0", false),
    AcceptEncodingCase("gzip;q=0.001", true),
    AcceptEncodingCase("gzip;q=1.0", true),
    AcceptEncodingCase("*", true),
    AcceptEncodingCase("*;q=0", false),
    AcceptEncodingCase("identity", false),
    AcceptEncodingCase("identity;q=1, *;q=0", false),
    AcceptEncodingCase("br, gzip;q=0.5", true),
    AcceptEncodingCase("deflate, br", false),
    AcceptEncodingCase("br;q=1.0, gzip;q=0.8, *;q=0.1", true),
    AcceptEncodingCase("gzip;q=0, *", false),
    AcceptEncodingCase("*;q=0, gzip", true),
    AcceptEncodingCase("*, gzip;q=0", false),
    AcceptEncodingCase("gzipped", false),
    AcceptEncodingCase(" gzip ; q=0.5 ", true),
]

@Test(arguments: acceptEncodingCases)
func decidesWhetherGzipIsAccepted(_ c: AcceptEncodingCase) {
    #expect(ContentNegotiation.acceptsGzip(c.header) == c.gzip)
}

@Test(arguments: [
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true),
    ("application/json", false),
    ("*/*", false),
    ("text/html;q=0.5, application/json", false),
    ("application/json;q=0.1, text/html", true),
    ("text/html, application/json", false),
    ("TEXT/HTML", true),
])
func decidesWhetherHTMLIsPreferred(header: String, html: Bool) {
    #expect(ContentNegotiation.prefersHTML(header) == html)
}

@Test func noAcceptHeaderKeepsJSON() {
    #expect(!ContentNegotiation.prefersHTML(nil))
}
