/// The outcome of a `Range: bytes=…` request field against a representation of known size
/// (RFC 9110 §14). Only a single range is served; a multi-range request gets the whole
/// representation, which the RFC allows.
public enum ByteRange: Equatable, Sendable {
    /// Serve everything (no Range, an unparseable one, or several ranges).
    case whole
    /// Serve the closed interval `first...last`.
    case partial(first: UInt64, last: UInt64)
    /// 416: nothing of the range lies inside the representation.
    case unsatisfiable

    public init(header: String?, size: UInt64) {
        guard let header, header.hasPrefix("bytes=") else { self = .whole; return }
        let spec = header.dropFirst(6)
        guard !spec.contains(",") else { self = .whole; return }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { self = .whole; return }
        let a = parts[0].trimmingSpaces(), b = parts[1].trimmingSpaces()
        if a.isEmpty {
            // Suffix range: the last N bytes.
            guard let n = Self.position(b) else { self = .whole; return }
            guard n > 0, size > 0 else { self = .unsatisfiable; return }
            self = .partial(first: size - min(n, size), last: size - 1)
            return
        }
        guard let first = Self.position(a) else { self = .whole; return }
        var last = size &- 1
        if !b.isEmpty {
            guard let l = Self.position(b), l >= first else { self = .whole; return }
            last = min(l, size &- 1)
        }
        guard first < size else { self = .unsatisfiable; return }
        self = .partial(first: first, last: last)
    }

    /// Positions are 1*DIGIT (RFC 9110 §14.1.1); `UInt64(_:)` alone would also take a sign.
    private static func position(_ s: Substring) -> UInt64? {
        guard s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(s)
    }
}

/// Builds the response for a file with a validator: handles HEAD, If-None-Match (304),
/// Range (206/416) and If-Range, so every file route behaves alike.
public enum FileResponse {
    public static func make(for head: HTTPRequestHead, file: HTTPFileRegion, etag: String,
                            headers extra: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = extra
        headers.set("ETag", etag)
        headers.set("Accept-Ranges", "bytes")
        if let inm = head.headers["If-None-Match"], matches(inm, etag: etag, weak: true) {
            return HTTPResponse(status: 304, headers: headers)
        }
        var range = ByteRange(header: head.headers["Range"], size: file.size)
        if head.method != "GET" { range = .whole }
        if let ifRange = head.headers["If-Range"], !matches(ifRange, etag: etag, weak: false) { range = .whole }
        switch range {
        case .whole:
            return HTTPResponse(status: 200, headers: headers, body: .file(file, offset: 0, length: file.size))
        case .partial(let first, let last):
            headers.set("Content-Range", "bytes \(first)-\(last)/\(file.size)")
            return HTTPResponse(status: 206, headers: headers, body: .file(file, offset: first, length: last - first + 1))
        case .unsatisfiable:
            headers.set("Content-Range", "bytes */\(file.size)")
            headers.remove("Content-Encoding")
            headers.set("Content-Type", "application/problem+json")
            let problem = #"{"type":"https://quantd.dev/problems/range-not-satisfiable","title":"Range not satisfiable","status":416,"detail":"The requested range starts beyond the \#(file.size)-byte file."}"#
            return HTTPResponse(status: 416, headers: headers, body: .bytes(Array(problem.utf8)))
        }
    }

    /// Entity-tag comparison (RFC 9110 §8.8.3.2): weak for If-None-Match, strong for If-Range.
    static func matches(_ field: String, etag: String, weak: Bool) -> Bool {
        let candidates = field.split(separator: ",").map { $0.trimmingSpaces() }
        if candidates.contains("*") { return weak }
        func opaque(_ s: Substring) -> Substring { s.hasPrefix("W/") ? s.dropFirst(2) : s }
        let mine = Substring(etag)
        return candidates.contains { c in
            weak ? opaque(c) == opaque(mine) : (!c.hasPrefix("W/") && !mine.hasPrefix("W/") && c == mine)
        }
    }
}
