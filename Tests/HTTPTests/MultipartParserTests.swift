import Testing
@testable import HTTP

// MARK: Boundary and disposition

struct BoundaryCase: CustomTestStringConvertible, Sendable {
    let contentType: String
    let boundary: String?
    var testDescription: String { contentType.count > 60 ? "\(contentType.prefix(60))… (\(contentType.count))" : contentType }
}

let boundaryCases: [BoundaryCase] = [
    BoundaryCase(contentType: "multipart/form-data; boundary=abc123", boundary: "abc123"),
    BoundaryCase(contentType: "multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxk", boundary: "----WebKitFormBoundary7MA4YWxk"),
    BoundaryCase(contentType: #"multipart/form-data; boundary="quoted boundary:with=chars""#, boundary: "quoted boundary:with=chars"),
    BoundaryCase(contentType: "Multipart/Form-Data; charset=utf-8; BOUNDARY = xyz ", boundary: "xyz"),
    BoundaryCase(contentType: "multipart/form-data; boundary=" + String(repeating: "b", count: 70), boundary: String(repeating: "b", count: 70)),
    BoundaryCase(contentType: "multipart/form-data; boundary=" + String(repeating: "b", count: 71), boundary: nil),
    BoundaryCase(contentType: #"multipart/form-data; boundary=""#.appending(String(repeating: "q", count: 71)) + #"""#, boundary: nil),
    BoundaryCase(contentType: "multipart/form-data", boundary: nil),
    BoundaryCase(contentType: "multipart/form-data; charset=utf-8", boundary: nil),
    BoundaryCase(contentType: "multipart/form-data; boundary=", boundary: nil),
    BoundaryCase(contentType: #"multipart/form-data; boundary="""#, boundary: nil),
    BoundaryCase(contentType: "multipart/mixed; boundary=abc", boundary: nil),
    BoundaryCase(contentType: "application/x-www-form-urlencoded; boundary=abc", boundary: nil),
    BoundaryCase(contentType: "", boundary: nil),
]

@Test(arguments: boundaryCases)
func extractsBoundary(_ c: BoundaryCase) {
    #expect(MultipartParser.boundary(contentType: c.contentType) == c.boundary)
}

@Test func readsDispositionNameAndFilename() {
    let file: HTTPHeaders = ["content-disposition": #"form-data; name="model"; filename="weights.safetensors""#]
    #expect(MultipartParser.disposition(file) == ("model", "weights.safetensors"))
    let field: HTTPHeaders = ["Content-Disposition": "form-data; name=bits"]
    #expect(MultipartParser.disposition(field) == ("bits", nil))
    #expect(MultipartParser.disposition(HTTPHeaders()) == (nil, nil))
}

// MARK: Driver

struct CollectedPart: Equatable, CustomStringConvertible {
    /// `name: value` per field, in order.
    var headers: [String]
    var data: [UInt8] = []
    var ended = false

    var description: String { "\(headers) \(data.count) bytes \(ended ? "ended" : "open")" }
}

struct MultipartOutcome: Equatable {
    var parts: [CollectedPart] = []
    var complete = false
}

/// Feeds `chunks` in order and collects the parts. Throws whatever `feed` throws.
func collectParts(_ chunks: [ArraySlice<UInt8>], boundary: String) throws -> MultipartOutcome {
    var parser = MultipartParser(boundary: boundary)
    var outcome = MultipartOutcome()
    for chunk in chunks {
        try chunk.withUnsafeBytes { bytes in
            try parser.feed(bytes) { event in
                switch event {
                case .partStart(let headers):
                    if let last = outcome.parts.last, !last.ended { Issue.record("part started before the previous ended") }
                    outcome.parts.append(CollectedPart(headers: headers.map { "\($0.name): \($0.value)" }))
                case .data(let data):
                    #expect(!data.isEmpty, "empty data events are noise")
                    guard let last = outcome.parts.last, !last.ended else { Issue.record("data outside a part"); return }
                    outcome.parts[outcome.parts.count - 1].data += data
                case .partEnd:
                    guard let last = outcome.parts.last, !last.ended else { Issue.record("partEnd outside a part"); return }
                    outcome.parts[outcome.parts.count - 1].ended = true
                }
            }
        }
    }
    outcome.complete = parser.isComplete
    let finished = (try? parser.finish()) != nil
    #expect(finished == parser.isComplete, "finish() succeeds exactly when complete")
    return outcome
}

/// Parses `body` whole, byte by byte, and split into two at every position, checks that all
/// feedings agree, and returns the common outcome.
func parsePartsAllWays(_ body: [UInt8], boundary: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> MultipartOutcome {
    let whole = try collectParts([body[...]], boundary: boundary)
    let byteByByte = try collectParts(body.indices.map { body[$0...$0] }, boundary: boundary)
    #expect(byteByByte == whole, "byte by byte", sourceLocation: sourceLocation)
    for cut in 0...body.count {
        let split = try collectParts([body[..<cut], body[cut...]], boundary: boundary)
        #expect(split == whole, "split at \(cut)", sourceLocation: sourceLocation)
    }
    return whole
}

/// Feeds `body` in every way `parsePartsAllWays` does and expects each feeding to throw.
func expectFailureAllWays(_ body: [UInt8], boundary: String, sourceLocation: SourceLocation = #_sourceLocation) {
    var feedings = [[body[...]], body.indices.map { body[$0...$0] }]
    feedings += (0...body.count).map { [body[..<$0], body[$0...]] }
    for chunks in feedings {
        #expect(throws: MultipartParser.Failure.self, "chunks \(chunks.map(\.count))", sourceLocation: sourceLocation) {
            _ = try collectParts(chunks, boundary: boundary)
        }
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

// MARK: Parts

let fileContent: [UInt8] = [0x00, 0x01, 0x0D, 0x0A, 0x2D, 0x2D, 0xFF, 0x0D]  // NUL, CRLF, "--", 0xFF, CR

let twoPartBody: [UInt8] = bytes("--XyZ\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{\"bits\":4}\r\n"
    + "--XyZ\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
    + fileContent + bytes("\r\n--XyZ--\r\n")

@Test func parsesTwoPartsHoweverSplit() throws {
    let outcome = try parsePartsAllWays(twoPartBody, boundary: "XyZ")
    #expect(outcome.complete)
    #expect(outcome.parts == [
        CollectedPart(headers: [#"Content-Disposition: form-data; name="config""#], data: bytes(#"{"bits":4}"#), ended: true),
        CollectedPart(headers: [#"Content-Disposition: form-data; name="model"; filename="m.bin""#,
                                "Content-Type: application/octet-stream"],
                      data: fileContent, ended: true),
    ])
}

@Test func splitsAtEveryPairOfPositions() throws {
    let body = bytes("--b\r\nA: 1\r\n\r\nx\r\n--b\r\n\r\n\r\n-\r\n--b--")
    let whole = try collectParts([body[...]], boundary: "b")
    #expect(whole.parts == [CollectedPart(headers: ["A: 1"], data: bytes("x"), ended: true),
                            CollectedPart(headers: [], data: bytes("\r\n-"), ended: true)])
    #expect(whole.complete)
    for i in 0...body.count {
        for j in i...body.count {
            let split = try collectParts([body[..<i], body[i..<j], body[j...]], boundary: "b")
            #expect(split == whole, "split at \(i), \(j)")
        }
    }
}

/// A named body (or piece of one) for a table of multipart cases.
struct NamedBody: CustomTestStringConvertible, Sendable {
    let name: String
    let body: [UInt8]
    var testDescription: String { name }

    init(_ name: String, _ body: String) {
        self.name = name
        self.body = bytes(body)
    }
}

let lookAlikes: [NamedBody] = [
    NamedBody("CRLF dash dash and part of the boundary", "abc\r\n--boun"),
    NamedBody("the boundary without CRLF before it", "abc--bound\r\ndef"),
    NamedBody("the boundary after a bare LF", "abc\n--bound\r\ndef"),
    NamedBody("the boundary after a bare CR", "abc\r--bound\r\ndef"),
    NamedBody("a near miss in the last byte", "\r\n--bounX\r\n--bouX"),
    NamedBody("repeated CRs and dashes", "\r\r\n\r\n-\r\n--\r\n--b\r\n--bo--"),
    NamedBody("ends with CR", "tail\r"),
    NamedBody("ends with CRLF dash", "tail\r\n-"),
    NamedBody("empty", ""),
]

@Test(arguments: lookAlikes)
func keepsDelimiterLookAlikesAsData(_ c: NamedBody) throws {
    let body = bytes("--bound\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n") + c.body + bytes("\r\n--bound--")
    let outcome = try parsePartsAllWays(body, boundary: "bound")
    #expect(outcome.parts == [CollectedPart(headers: [#"Content-Disposition: form-data; name="f""#], data: c.body, ended: true)])
    #expect(outcome.complete)
}

@Test func skipsPreambleAndEpilogue() throws {
    let body = bytes("This is the preamble, with --bound inside it.\r\n--bound\r\nA: 1\r\n\r\ndata\r\n--bound--\r\nepilogue\r\n--bound\r\nB: 2\r\n\r\nignored")
    let outcome = try parsePartsAllWays(body, boundary: "bound")
    #expect(outcome.parts == [CollectedPart(headers: ["A: 1"], data: bytes("data"), ended: true)])
    #expect(outcome.complete)
}

@Test func acceptsCRLFBeforeTheFirstDelimiter() throws {
    let outcome = try parsePartsAllWays(bytes("\r\n--bound\r\nA: 1\r\n\r\ndata\r\n--bound--"), boundary: "bound")
    #expect(outcome.parts == [CollectedPart(headers: ["A: 1"], data: bytes("data"), ended: true)])
}

@Test func emptyMultipartIsComplete() throws {
    let outcome = try parsePartsAllWays(bytes("--bound--\r\n"), boundary: "bound")
    #expect(outcome.parts.isEmpty)
    #expect(outcome.complete)
}

// MARK: Failures

let truncatedBodies: [NamedBody] = [
    NamedBody("no closing delimiter", "--bound\r\nA: 1\r\n\r\ndata\r\n"),
    NamedBody("closing delimiter without its dashes", "--bound\r\nA: 1\r\n\r\ndata\r\n--bound"),
    NamedBody("closing delimiter missing a dash", "--bound\r\nA: 1\r\n\r\ndata\r\n--bound-"),
    NamedBody("ends inside part headers", "--bound\r\nA: 1\r\n"),
    NamedBody("ends inside data", "--bound\r\nA: 1\r\n\r\ndat"),
    NamedBody("only a preamble", "no delimiter at all"),
    NamedBody("nothing", ""),
]

@Test(arguments: truncatedBodies)
func finishFailsWithoutClosingDelimiter(_ c: NamedBody) throws {
    let outcome = try parsePartsAllWays(c.body, boundary: "bound")
    #expect(!outcome.complete)
    var parser = MultipartParser(boundary: "bound")
    try c.body.withUnsafeBytes { b in try parser.feed(b) { _ in } }
    #expect(throws: MultipartParser.Failure.self) { try parser.finish() }
}

let malformedBodies: [NamedBody] = [
    NamedBody("header without a colon", "--bound\r\nContent-Disposition form-data\r\n\r\nx\r\n--bound--"),
    NamedBody("space before the colon", "--bound\r\nContent-Type : text/plain\r\n\r\nx\r\n--bound--"),
    NamedBody("folded header line", "--bound\r\nA: 1\r\n 2\r\n\r\nx\r\n--bound--"),
    NamedBody("control character in a value", "--bound\r\nA: 1\u{01}\r\n\r\nx\r\n--bound--"),
    NamedBody("bare LF ending a header line", "--bound\r\nA: 1\nB: 2\r\n\r\nx\r\n--bound--"),
    NamedBody("bare LF as an empty header line", "--bound\r\nA: 1\r\n\nB: 2\r\n\r\nx\r\n--bound--"),
    NamedBody("bare LF first in the header block", "--bound\r\n\nA: 1\r\n\r\nx\r\n--bound--"),
    NamedBody("delimiter followed by other characters", "--bound\r\nA: 1\r\n\r\nx\r\n--boundary\r\n\r\ny\r\n--bound--"),
    NamedBody("first delimiter followed by other characters", "--boundX\r\nA: 1\r\n\r\nx\r\n--bound--"),
]

@Test(arguments: malformedBodies)
func rejectsMalformedParts(_ c: NamedBody) {
    expectFailureAllWays(c.body, boundary: "bound")
}

/// A part whose header block (its lines with their CRLFs, without the empty line) is `size` bytes.
func partWithHeaderBlock(of size: Int) -> [UInt8] {
    bytes("--bound\r\nX-Big: " + String(repeating: "h", count: size - 9) + "\r\n\r\nx\r\n--bound--")
}

/// Too long to split at every position: whole, and in reads of several sizes that put the
/// end of the header block at different offsets within a read.
func bigBodyFeedings(_ body: [UInt8]) -> [[ArraySlice<UInt8>]] {
    [[body[...]]] + [1024, 1000, 333, 16_393, 16_394].map { size in
        stride(from: 0, to: body.count, by: size).map { body[$0..<min($0 + size, body.count)] }
    }
}

@Test func acceptsPartHeadersOfExactly16KiB() throws {
    for chunks in bigBodyFeedings(partWithHeaderBlock(of: 16 * 1024)) {
        let outcome = try collectParts(chunks, boundary: "bound")
        #expect(outcome.parts.map(\.data) == [bytes("x")], "reads of \(chunks.map(\.count))")
        #expect(outcome.complete)
    }
}

@Test func rejectsPartHeadersOver16KiB() {
    for chunks in bigBodyFeedings(partWithHeaderBlock(of: 16 * 1024 + 1)) {
        #expect(throws: MultipartParser.Failure.self, "reads of \(chunks.map(\.count))") {
            _ = try collectParts(chunks, boundary: "bound")
        }
    }
}

@Test func handlerErrorsPropagate() {
    struct Stop: Error {}
    var parser = MultipartParser(boundary: "XyZ")
    #expect(throws: Stop.self) {
        try twoPartBody.withUnsafeBytes { b in try parser.feed(b) { _ in throw Stop() } }
    }
}

@Suite struct MultipartTransportPaddingTests {
    @Test func spacesAndTabsAfterABoundaryAreAccepted() throws {
        let body = "--XyZ \t\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nabc\r\n--XyZ-- \r\n"
        var parser = MultipartParser(boundary: "XyZ")
        var data: [UInt8] = []
        var parts = 0
        try Array(body.utf8).withUnsafeBytes { bytes in
            try parser.feed(bytes) { event in
                switch event {
                case .partStart: parts += 1
                case .data(let d): data += d
                case .partEnd: break
                }
            }
        }
        try parser.finish()
        #expect(parts == 1)
        #expect(data == Array("abc".utf8))
    }
}
