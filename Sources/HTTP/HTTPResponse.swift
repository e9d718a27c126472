import Glibc

/// A response as handlers build it. The connection adds framing headers (Content-Length,
/// Connection, Date) and leaves out the body for HEAD.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case empty
        case bytes([UInt8])
        /// `length` bytes of an open file starting at `offset`, sent with sendfile.
        case file(HTTPFileRegion, offset: UInt64, length: UInt64)

        var length: UInt64 {
            switch self {
            case .empty: 0
            case .bytes(let b): UInt64(b.count)
            case .file(_, _, let length): length
            }
        }
    }

    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body
    /// Close the connection after this response even if the request allowed keep-alive.
    public var closeConnection = false

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.init(status: status, headers: ["Content-Type": contentType], body: .bytes(body))
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, contentType: contentType, body: Array(text.utf8))
    }
}

/// An open file descriptor owned by a response; closed when the last reference goes away,
/// so a response dropped half-sent never leaks it.
public final class HTTPFileRegion: Sendable {
    public let descriptor: Int32
    public let size: UInt64

    /// Opens a file for reading; nil if it does not exist or is not a regular file.
    public init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return nil
        }
        descriptor = fd
        size = UInt64(st.st_size)
    }

    deinit { close(descriptor) }
}
