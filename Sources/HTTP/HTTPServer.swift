import CLinuxIO
import Glibc
import Synchronization

/// An HTTP/1.1 server on non-blocking BSD sockets and epoll event loops.
///
/// Loop 0 accepts; connections are spread round-robin over all loops and stay on theirs.
public final class HTTPServer: Sendable {
    public enum StartError: Error, CustomStringConvertible {
        case address(String)
        case bind(host: String, port: Int, errno: Int32)

        public var description: String {
            switch self {
            case .address(let host): "'\(host)' is not an IPv4 or IPv6 address"
            case .bind(let host, let port, let e): "cannot listen on \(host):\(port): \(String(cString: strerror(e)))"
            }
        }
    }

    private let context: HTTPServerContext
    private let loops: [EventLoop]
    private let listener = Mutex<Listener?>(nil)
    private let boundPort = Atomic(0)
    private let shutDown = Atomic(false)

    /// With `tls`, every connection speaks HTTPS (a plain HTTP request gets a clear 400).
    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, tls: TLSContext? = nil) {
        context = HTTPServerContext(config: configuration, responder: responder, tls: tls)
        loops = (0..<max(1, configuration.eventLoops)).map { _ in EventLoop() }
    }

    public var isTLS: Bool { context.tls != nil }

    /// New connections use `tls` from now on; open ones finish with the context they began with.
    public func reloadTLS(_ tls: TLSContext) {
        context.tls = tls
    }

    /// The port actually bound (useful with port 0).
    public var port: Int { boundPort.load(ordering: .relaxed) }

    public var statistics: HTTPServerStatistics { context.statistics }

    public func start() throws {
        // A peer that resets mid-write must cost a failed write, not the process.
        signal(SIGPIPE, SIG_IGN)
        let fd = try Self.listen(host: context.config.host, port: context.config.port)
        var addr = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) } }
        let port = addr.ss_family == sa_family_t(AF_INET6)
            ? withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
            : withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        boundPort.store(port, ordering: .relaxed)
        for (i, loop) in loops.enumerated() { loop.start(name: "http-loop-\(i)") }
        let l = Listener(fd: fd, loops: loops, context: context)
        listener.withLock { $0 = l }
        loops[0].execute { l.register() }
    }

    /// Stops accepting, lets in-flight requests finish for up to `gracePeriod` seconds, then
    /// closes what is left. Blocks until the loops have stopped.
    public func shutdown(gracePeriod: Double) {
        // A second call (say SIGTERM after SIGINT) has nothing left to do.
        guard !shutDown.exchange(true, ordering: .relaxed) else { return }
        context.startDraining()
        if let l = listener.withLock({ $0 }) {
            loops[0].execute { l.stop() }
        }
        for loop in loops {
            loop.execute { loop.forEachSource { ($0 as? HTTPConnection)?.drainOrClose() } }
        }
        let deadline = EventLoop.now() + gracePeriod
        while context.statistics.openConnections.load(ordering: .relaxed) > 0 && EventLoop.now() < deadline {
            usleep(20_000)
        }
        for loop in loops {
            loop.execute { loop.forEachSource { ($0 as? HTTPConnection)?.close() } }
            loop.stop()
        }
        for loop in loops { loop.waitUntilStopped() }
    }

    static func listen(host: String, port: Int) throws -> Int32 {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let isV6: Bool
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            isV6 = false
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = UInt16(port).bigEndian
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            isV6 = true
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = UInt16(port).bigEndian
        } else {
            throw StartError.address(host)
        }
        let fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartError.bind(host: host, port: port, errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = isV6
            ? withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            : withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, Glibc.listen(fd, 1024) == 0 else {
            let e = errno
            close(fd)
            throw StartError.bind(host: host, port: port, errno: e)
        }
        return fd
    }
}

/// The listening socket, on loop 0. Transient accept failures pause accepting with back-off
/// instead of spinning or dying. At a cap (`maxConnections`, or `maxConnectionsPerAddress` for
/// the client's address) the connection that has waited longest for a request head is closed
/// to make room; only when every connection is busy does the newcomer get a 503.
private final class Listener: EventLoopSource, @unchecked Sendable {
    // @unchecked: used on loop 0's thread only.
    let fd: Int32
    let loops: [EventLoop]
    let context: HTTPServerContext
    private var next = 0
    private var pausedUntil: Double?
    private var backoff = 0.05
    private var stopped = false

    init(fd: Int32, loops: [EventLoop], context: HTTPServerContext) {
        self.fd = fd
        self.loops = loops
        self.context = context
    }

    func register() {
        // Level-triggered: a backlog left after a burst is picked up on the next wait.
        loops[0].register(fd, self, events: EPOLLIN.rawValue)
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        loops[0].deregister(fd)
        close(fd)
    }

    func ready(readable: Bool, writable: Bool, hangup: Bool) {
        for _ in 0..<64 {
            let client = clinuxio_accept4(fd)
            if client < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO: continue
                default:
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: resources run out; wait for some to free.
                    pause()
                    return
                }
            }
            backoff = 0.05
            admit(client)
        }
    }

    func tick(now: Double) {
        if let until = pausedUntil, now >= until, !stopped {
            pausedUntil = nil
            loops[0].setInterest(fd, events: EPOLLIN.rawValue)
        }
    }

    private func pause() {
        // Still registered (so ticks arrive), but not woken for reads until the pause ends.
        loops[0].setInterest(fd, events: 0)
        pausedUntil = EventLoop.now() + backoff
        backoff = min(backoff * 2, 1.0)
    }

    private func admit(_ client: Int32) {
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let stats = context.statistics
        let address = Self.peerAddress(client)
        let config = context.config
        let overAddress = config.maxConnectionsPerAddress > 0 && context.connections.count(address: address) >= config.maxConnectionsPerAddress
        let overTotal = stats.openConnections.load(ordering: .relaxed) >= config.maxConnections
        var refuse = context.isDraining
        if !refuse, overAddress || overTotal {
            if let victim = context.connections.takeLongestWaiting(address: overAddress ? address : nil) {
                stats.evictedConnections.add(1, ordering: .relaxed)
                victim.loop.execute { victim.connection.evictIfWaitingForHead() }
            } else {
                refuse = true
            }
        }
        if refuse {
            stats.refusedConnections.add(1, ordering: .relaxed)
            var bytes: [UInt8] = []
            var response = context.responder.errorResponse(status: 503, detail: "the server is at its connection limit; retry shortly")
            response.headers.set("Retry-After", "1")
            let body: [UInt8] = if case .bytes(let b) = response.body { b } else { [] }
            HTTPResponseEncoder.encodeHead(response, bodyLength: UInt64(body.count), close: true, http10KeepAlive: false, into: &bytes)
            bytes += body
            _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(client)
            return
        }
        stats.openConnections.add(1, ordering: .relaxed)
        stats.acceptedConnections.add(1, ordering: .relaxed)
        let loop = loops[next % loops.count]
        next &+= 1
        let connection = HTTPConnection(fd: client, loop: loop, server: context)
        context.connections.add(connection, address: address, loop: loop, now: EventLoop.now())
        let attach: @Sendable () -> Void = { loop.register(client, connection) }
        if loop === loops[0] { attach() } else { loop.execute(attach) }
    }

    /// The client's IP address as text (without the port): the key of the per-address cap.
    static func peerAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard ok == 0 else { return "?" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = storage.ss_family
        withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { var a = $0.pointee.sin6_addr; _ = inet_ntop(AF_INET6, &a, &text, socklen_t(text.count)) }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { var a = $0.pointee.sin_addr; _ = inet_ntop(AF_INET, &a, &text, socklen_t(text.count)) }
            }
        }
        return String(cString: text)
    }
}
