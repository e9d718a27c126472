import Glibc
import Testing
@testable import HTTP

// MARK: Range header

struct RangeCase: CustomTestStringConvertible, Sendable {
    let header: String?
    let size: UInt64
    let expected: ByteRange
    var testDescription: String { "\(header ?? "nil") of \(size) → \(expected)" }

    init(_ header: String?, size: UInt64 = 10, _ expected: ByteRange) {
        self.header = header
        self.size = size
        self.expected = expected
    }
}

let rangeCases: [RangeCase] = [
    RangeCase(nil, .whole),
    RangeCase("bytes=0-0", .partial(first: 0, last: 0)),
    RangeCase("bytes=0-", .partial(first: 0, last: 9)),
    RangeCase("bytes=3-7", .partial(first: 3, last: 7)),
    RangeCase("bytes=9-9", .partial(first: 9, last: 9)),
    RangeCase("bytes=-5", .partial(first: 5, last: 9)),
    RangeCase("bytes=-1", .partial(first: 9, last: 9)),
    RangeCase("bytes=-0", .unsatisfiable),
    RangeCase("bytes=5-2", .whole),
    RangeCase("bytes=0-1,3-4", .whole),
    RangeCase("bytes=0-1, 3-4", .whole),
    RangeCase("bytes=10-", .unsatisfiable),
    RangeCase("bytes=10-20", .unsatisfiable),
    RangeCase("bytes=50-60", .unsatisfiable),
    RangeCase("bytes=5-100", .partial(first: 5, last: 9)),
    RangeCase("bytes=0-18446744073709551615", .partial(first: 0, last: 9)),
    RangeCase("bytes=-100", .partial(first: 0, last: 9)),
    RangeCase("bytes=-10", .partial(first: 0, last: 9)),
    RangeCase("items=0-1", .whole),
    RangeCase("none", .whole),
    RangeCase("", .whole),
    RangeCase("bytes=", .whole),
    RangeCase("bytes=-", .whole),
    RangeCase("bytes=abc", .whole),
    RangeCase("bytes=1-a", .whole),
    RangeCase("bytes=a-1", .whole),
    RangeCase("bytes=99999999999999999999-", .whole),
    RangeCase("bytes=+1-3", .whole),
    RangeCase("bytes=1-+3", .whole),
    RangeCase("bytes=-+5", .whole),
    RangeCase("bytes=--0", .whole),
    RangeCase("bytes=0-", size: 0, .unsatisfiable),
    RangeCase("bytes=-5", size: 0, .unsatisfiable),
    RangeCase("bytes=0-0", size: 1, .partial(first: 0, last: 0)),
    RangeCase("bytes=1099511627776-", size: 1 << 41, .partial(first: 1 << 40, last: (1 << 41) - 1)),
]

@Test(arguments: rangeCases)
func interpretsRangeHeader(_ c: RangeCase) {
    #expect(ByteRange(header: c.header, size: c.size) == c.expected)
}

// MARK: File responses

/// A file of `size` bytes whose byte at offset i is `i % 251`, removed when released.
final class TemporaryFile {
    let path: String

    init(size: Int) throws {
        var template = Array("/tmp/quantd-httptests-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let content = (0..<size).map { UInt8($0 % 251) }
        let written = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try #require(written == size)
    }

    deinit { unlink(path) }
}

struct FileCase: CustomTestStringConvertible, Sendable {
    let name: String
    var method = "GET"
    let request: [(String, String)]
    let status: Int
    /// The served slice for 200/206.
    var served: Range<UInt64>?
    var contentRange: String?
    var testDescription: String { name }
}

let etag = #""v1""#

let fileCases: [FileCase] = [
    FileCase(name: "no Range", request: [], status: 200, served: 0..<100),
    FileCase(name: "Range 10-19", request: [("Range", "bytes=10-19")], status: 206, served: 10..<20, contentRange: "bytes 10-19/100"),
    FileCase(name: "suffix Range", request: [("Range", "bytes=-5")], status: 206, served: 95..<100, contentRange: "bytes 95-99/100"),
    FileCase(name: "Range past the end clamps", request: [("Range", "bytes=90-200")], status: 206, served: 90..<100,
             contentRange: "bytes 90-99/100"),
    FileCase(name: "single first byte", request: [("range", "bytes=0-0")], status: 206, served: 0..<1, contentRange: "bytes 0-0/100"),
    FileCase(name: "Range starting at the size", request: [("Range", "bytes=100-")], status: 416, contentRange: "bytes */100"),
    FileCase(name: "multi-range served whole", request: [("Range", "bytes=0-1,5-6")], status: 200, served: 0..<100),
    FileCase(name: "HEAD ignores Range", method: "HEAD", request: [("Range", "bytes=10-19")], status: 200, served: 0..<100),
    FileCase(name: "HEAD ignores an unsatisfiable Range", method: "HEAD", request: [("Range", "bytes=500-")], status: 200, served: 0..<100),
    FileCase(name: "If-None-Match equal", request: [("If-None-Match", #""v1""#)], status: 304),
    FileCase(name: "If-None-Match weak matches strong", request: [("If-None-Match", #"W/"v1""#)], status: 304),
    FileCase(name: "If-None-Match star", request: [("If-None-Match", "*")], status: 304),
    FileCase(name: "If-None-Match list containing it", request: [("If-None-Match", #""v0", W/"v1" ,"v2""#)], status: 304),
    FileCase(name: "If-None-Match other", request: [("If-None-Match", #""v2""#)], status: 200, served: 0..<100),
    FileCase(name: "If-None-Match list without it", request: [("If-None-Match", #""v0", "v11", v1"#)], status: 200, served: 0..<100),
    FileCase(name: "If-None-Match wins over Range", request: [("If-None-Match", #""v1""#), ("Range", "bytes=0-1")], status: 304),
    FileCase(name: "HEAD with If-None-Match", method: "HEAD", request: [("If-None-Match", #""v1""#)], status: 304),
    FileCase(name: "If-Range matching", request: [("Range", "bytes=10-19"), ("If-Range", #""v1""#)], status: 206, served: 10..<20,
             contentRange: "bytes 10-19/100"),
    FileCase(name: "If-Range mismatch serves whole", request: [("Range", "bytes=10-19"), ("If-Range", #""v2""#)], status: 200, served: 0..<100),
    FileCase(name: "If-Range weak never matches", request: [("Range", "bytes=10-19"), ("If-Range", #"W/"v1""#)], status: 200, served: 0..<100),
    FileCase(name: "If-Range date serves whole", request: [("Range", "bytes=10-19"), ("If-Range", "Wed, 21 Oct 2015 07:28:00 GMT")],
             status: 200, served: 0..<100),
    FileCase(name: "If-Range mismatch with an unsatisfiable Range", request: [("Range", "bytes=500-"), ("If-Range", #""v2""#)],
             status: 200, served: 0..<100),
]

func head(_ method: String, _ fields: [(String, String)]) -> HTTPRequestHead {
    HTTPRequestHead(method: method, target: "/v1/artifacts/a", version: .http11, headers: HTTPHeaders([("Host", "h")] + fields), framing: .none)
}

@Test(arguments: fileCases)
func buildsFileResponse(_ c: FileCase) throws {
    let temp = try TemporaryFile(size: 100)
    let file = try #require(HTTPFileRegion(path: temp.path))
    #expect(file.size == 100)
    let response = FileResponse.make(for: head(c.method, c.request), file: file, etag: etag)
    #expect(response.status == c.status)
    #expect(response.headers["ETag"] == etag)
    #expect(response.headers["Accept-Ranges"] == "bytes")
    #expect(response.headers["Content-Range"] == c.contentRange)
    switch (response.body, c.served) {
    case (.file(let region, let offset, let length), let served?):
        #expect(region === file)
        #expect(offset == served.lowerBound)
        #expect(length == UInt64(served.count))
    case (.empty, nil):
        #expect(c.status == 304)
    case (.bytes(let problem), nil):
        #expect(c.status == 416)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(String(decoding: problem, as: UTF8.self).contains(#""status":416"#))
    default:
        Issue.record("unexpected body \(response.body) for \(String(describing: c.served))")
    }
}

@Test func weakStoredTagMatchesIfNoneMatchButNeverIfRange() throws {
    let temp = try TemporaryFile(size: 10)
    let file = try #require(HTTPFileRegion(path: temp.path))
    #expect(FileResponse.make(for: head("GET", [("If-None-Match", #""w""#)]), file: file, etag: #"W/"w""#).status == 304)
    let ranged = FileResponse.make(for: head("GET", [("Range", "bytes=0-1"), ("If-Range", #"W/"w""#)]), file: file, etag: #"W/"w""#)
    #expect(ranged.status == 200)
}

@Test func keepsExtraHeadersAndDropsContentEncodingOnlyOn416() throws {
    let temp = try TemporaryFile(size: 10)
    let file = try #require(HTTPFileRegion(path: temp.path))
    let extra: HTTPHeaders = ["Content-Encoding": "gzip", "Content-Type": "application/octet-stream", "ETag": #""stale""#]

    let partial = FileResponse.make(for: head("GET", [("Range", "bytes=0-1")]), file: file, etag: etag, headers: extra)
    #expect(partial.status == 206)
    #expect(partial.headers["Content-Encoding"] == "gzip")
    #expect(partial.headers["Content-Type"] == "application/octet-stream")
    #expect(partial.headers.values("ETag") == [etag], "the validator replaces any ETag passed in")

    let unsatisfiable = FileResponse.make(for: head("GET", [("Range", "bytes=10-")]), file: file, etag: etag, headers: extra)
    #expect(unsatisfiable.status == 416)
    #expect(unsatisfiable.headers["Content-Encoding"] == nil)
    #expect(unsatisfiable.headers.values("Content-Type") == ["application/problem+json"])
    #expect(unsatisfiable.headers["Content-Range"] == "bytes */10")
}

@Test func fileRegionServesTheRequestedBytes() throws {
    let temp = try TemporaryFile(size: 300)
    let file = try #require(HTTPFileRegion(path: temp.path))
    let response = FileResponse.make(for: head("GET", [("Range", "bytes=250-259")]), file: file, etag: etag)
    guard case .file(let region, let offset, let length) = response.body else {
        Issue.record("expected a file body")
        return
    }
    var read = [UInt8](repeating: 0, count: Int(length))
    let n = read.withUnsafeMutableBytes { pread(region.descriptor, $0.baseAddress, $0.count, off_t(offset)) }
    #expect(n == 10)
    #expect(read == (250..<260).map { UInt8($0 % 251) })
}

@Test func fileRegionRefusesMissingFilesAndDirectories() {
    #expect(HTTPFileRegion(path: "/nonexistent/quantd-httptests") == nil)
    #expect(HTTPFileRegion(path: "/tmp") == nil)
}
