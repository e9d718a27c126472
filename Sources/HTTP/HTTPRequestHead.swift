/// The request line and header section of one request, validated by `HTTPRequestParser`.
public struct HTTPRequestHead: Sendable {
    public enum Version: Sendable, Equatable {
        case http10, http11
    }

    /// How the body that follows the head is delimited (RFC 9112 §6).
    public enum BodyFraming: Sendable, Equatable {
        case none
        case contentLength(UInt64)
        case chunked
    }

    public var method: String
    /// The raw request-target, e.g. `/v1/jobs?status=queued`.
    public var target: String
    public var version: Version
    public var headers: HTTPHeaders
    public var framing: BodyFraming

    public init(method: String, target: String, version: Version, headers: HTTPHeaders, framing: BodyFraming) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
    }

    /// The path part of the target, without the query.
    public var path: Substring {
        target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// The raw query string after `?`, or empty.
    public var query: Substring {
        guard let q = target.firstIndex(of: "?") else { return "" }
        return target[target.index(after: q)...]
    }

    /// Whether the connection stays open after this exchange, per the version's default and
    /// the Connection field.
    public var keepAlive: Bool {
        let connection = headers.tokens("Connection")
        switch version {
        case .http11: return !connection.contains("close")
        case .http10: return connection.contains("keep-alive") && !connection.contains("close")
        }
    }

    public var expectsContinue: Bool {
        headers["Expect"].map { $0.lowercased() == "100-continue" } ?? false
    }

    /// Whether a body follows the head.
    public var hasBody: Bool {
        switch framing {
        case .none, .contentLength(0): false
        default: true
        }
    }
}
