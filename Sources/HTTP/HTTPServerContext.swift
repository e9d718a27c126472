import Synchronization

/// What every connection of one server shares: configuration, the responder, counters and
/// the draining flag. Thread-safe.
final class HTTPServerContext: Sendable {
    let config: HTTPServerConfiguration
    let responder: any HTTPResponder
    let statistics = HTTPServerStatistics()
    let connections = ConnectionRegistry()
    private let draining = Atomic(false)
    /// The TLS context new connections use (nil: plain HTTP); replaced by a reload.
    private let tlsContext: Mutex<TLSContext?>

    init(config: HTTPServerConfiguration, responder: any HTTPResponder, tls: TLSContext?) {
        self.config = config
        self.responder = responder
        tlsContext = Mutex(tls)
    }

    var tls: TLSContext? {
        get { tlsContext.withLock { $0 } }
        set { tlsContext.withLock { $0 = newValue } }
    }

    var isDraining: Bool { draining.load(ordering: .relaxed) }
    func startDraining() { draining.store(true, ordering: .relaxed) }

    func requestStarted() { statistics.requests.add(1, ordering: .relaxed) }
    func bytesReceived(_ n: Int) { statistics.bytesIn.add(n, ordering: .relaxed) }
    func responded(status: Int, bytes: Int) { statistics.bytesOut.add(bytes, ordering: .relaxed) }
    func connectionClosed() { statistics.openConnections.subtract(1, ordering: .relaxed) }
}

/// Live counters of a server, for the application's metrics endpoint.
public final class HTTPServerStatistics: Sendable {
    public let openConnections = Atomic(0)
    public let acceptedConnections = Atomic(0)
    /// Connections refused with 503 because a cap was reached and every connection was busy.
    public let refusedConnections = Atomic(0)
    /// Connections closed at a cap because they had waited longest for a request head.
    public let evictedConnections = Atomic(0)
    public let requests = Atomic(0)
    /// Request body bytes received.
    public let bytesIn = Atomic(0)
    /// Response body bytes sent (heads excluded).
    public let bytesOut = Atomic(0)
}
