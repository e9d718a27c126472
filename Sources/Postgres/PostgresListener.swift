import Foundation
import Synchronization

/// A connection of its own that LISTENs to channels and hands every NOTIFY to `handler`, on a
/// thread of its own. When the connection breaks it dials again with backoff, and calls
/// `reconnected` once it listens again: notifications sent meanwhile were lost, so the owner
/// re-checks what it was waiting for.
public final class PostgresListener: Sendable {
    public typealias Handler = @Sendable (PostgresNotification) -> Void

    private let url: String
    private let channels: [String]
    private let onConnect: @Sendable (PostgresConnection) throws -> Void
    private let handler: Handler
    private let reconnected: @Sendable () -> Void
    private let stopped = Atomic(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Whether the listener is connected and listening now (for readiness).
    public let isListening = Atomic(false)

    /// `onConnect` runs on each new connection before it listens (to take a session lock, say);
    /// when it throws, the connection is dropped and dialled again later.
    public init(url: String, channels: [String], onConnect: @escaping @Sendable (PostgresConnection) throws -> Void = { _ in },
                handler: @escaping Handler, reconnected: @escaping @Sendable () -> Void) {
        self.url = url
        self.channels = channels
        self.onConnect = onConnect
        self.handler = handler
        self.reconnected = reconnected
    }

    public func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "postgres-listener"
        thread.start()
    }

    /// Stops listening; returns once the thread has let go of its connection (within a second).
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        _ = finished.wait(timeout: .now() + 2)
    }

    private func run() {
        var backoff = 0.1
        var first = true
        while !stopped.load(ordering: .relaxed) {
            do {
                let conn = try PostgresConnection(url: url, applicationName: "quantd-listener")
                try onConnect(conn)
                for channel in channels { try conn.execute("LISTEN \(channel)") }
                isListening.store(true, ordering: .relaxed)
                backoff = 0.1
                if !first { reconnected() }
                first = false
                while !stopped.load(ordering: .relaxed) {
                    for n in try conn.notifications(timeout: 0.5) { handler(n) }
                }
            } catch {
                isListening.store(false, ordering: .relaxed)
                first = false
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 2)
            }
        }
        isListening.store(false, ordering: .relaxed)
    }
}
