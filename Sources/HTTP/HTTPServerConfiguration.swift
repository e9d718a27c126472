/// Every limit and timeout of the server; the application fills it from its own config.
public struct HTTPServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks an ephemeral port (see `HTTPServer.port`).
    public var port = 8080
    public var eventLoops = 1
    public var maxConnections = 1024
    /// Open connections from one client address; 0 = no limit besides `maxConnections`. At
    /// either cap the connection waiting longest for a request head is closed to make room.
    public var maxConnectionsPerAddress = 0
    /// Body limit applied when the responder does not set one.
    public var maxBodyBytes: UInt64 = 8 << 30
    /// From a request's first byte until its head is complete.
    public var headerReadTimeout = 10.0
    /// A kept-alive connection with no request in progress.
    public var idleTimeout = 60.0
    /// An upload slower than this over `uploadRateWindow` seconds is cut off with 408:
    /// a rate, not a total deadline, so large uploads at a steady pace always finish.
    public var minUploadBytesPerSecond = 16 * 1024
    public var uploadRateWindow = 20.0
    /// A response the client stops reading for this long is dropped.
    public var writeStallTimeout = 60.0
    /// From accepting a TLS connection until its handshake is complete.
    public var tlsHandshakeTimeout = 10.0
    /// A request whose early answer leaves at most this much body unread is kept alive and
    /// the rest drained; past it the connection closes.
    public var maxDrainBytes: UInt64 = 1 << 20
    public var readBufferBytes = 256 * 1024
    public var parserLimits = HTTPRequestParser.Limits()

    public init() {}
}
