/// What the server asks of the application: what to do with a request's body once its head
/// is known, and the response once the request is complete.
public protocol HTTPResponder: Sendable {
    /// Called on the event loop as soon as the head is parsed, before any body byte is read
    /// and before `100 Continue` is sent. Must be quick: route, auth and size checks only.
    func bodyDecision(for head: HTTPRequestHead) -> HTTPBodyDecision

    /// Produces the response. `completion` may be called on any thread, once.
    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void)

    /// The response for a failure the server detects itself (malformed request, timeout,
    /// overload, body too large), so that every error has the application's format.
    func errorResponse(status: Int, detail: String) -> HTTPResponse
}

public enum HTTPBodyDecision: Sendable {
    /// Answer now; the body is never read (the connection closes if it cannot be skipped).
    case reject(HTTPResponse)
    /// Collect the body in memory, up to `maxBytes` (413 above it).
    case collect(maxBytes: Int)
    /// Stream the body into `sink` as it arrives, up to `maxBytes` (413 above it).
    case stream(any HTTPBodySink, maxBytes: UInt64)
}

/// Receives a streamed request body on the event loop, in arrival order. No method may block:
/// a sink that cannot keep up says so through `whenReady`.
public protocol HTTPBodySink: AnyObject, Sendable {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// True to keep reading the socket; false to pause, with `resume` called (on any thread)
    /// once the sink can take more.
    func whenReady(_ resume: @escaping @Sendable () -> Void) -> Bool
    /// The body ended well; called on the event loop before `respond`, so it must not wait
    /// (finishing that takes time belongs in the responder).
    func finish() throws
    /// The body will never be complete (client gone, limit exceeded, parse error).
    func abort()
}

/// An error from a body sink that knows its own response (e.g. 507 when the disk is full).
public protocol HTTPResponseConvertible: Error {
    var response: HTTPResponse { get }
}

public struct HTTPRequest: Sendable {
    public enum Body: Sendable {
        case none
        case bytes([UInt8])
        case streamed(any HTTPBodySink)
    }

    public var head: HTTPRequestHead
    public var body: Body

    public init(head: HTTPRequestHead, body: Body) {
        self.head = head
        self.body = body
    }
}
