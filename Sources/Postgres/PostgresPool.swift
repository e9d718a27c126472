import Dispatch
import Synchronization

/// A fixed-size pool of connections to one database. Callers run on worker and event-loop
/// threads, so a checkout blocks (up to `checkoutTimeout`) rather than suspends. A connection
/// that broke is dropped and the next checkout dials a new one: when the server comes back
/// the pool heals without a restart.
public final class PostgresPool: Sendable {
    public let url: String
    public let size: Int
    private let checkoutTimeout: Double
    private let applicationName: String
    private let slots: DispatchSemaphore
    private let idle = Mutex<[PostgresConnectionBox]>([])

    public init(url: String, size: Int, checkoutTimeout: Double = 10, applicationName: String = "quantd") {
        self.url = url
        self.size = max(1, size)
        self.checkoutTimeout = checkoutTimeout
        self.applicationName = applicationName
        slots = DispatchSemaphore(value: max(1, size))
    }

    /// Runs `body` on a pooled connection.
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + checkoutTimeout) == .success else {
            throw PostgresError.poolExhausted(seconds: checkoutTimeout)
        }
        defer { slots.signal() }
        let box = try idle.withLock { $0.popLast() } ?? PostgresConnectionBox(try PostgresConnection(url: url, applicationName: applicationName))
        do {
            let value = try body(box.connection)
            if box.connection.isHealthy { idle.withLock { $0.append(box) } }
            return value
        } catch {
            if box.connection.isHealthy {
                idle.withLock { $0.append(box) }
            } else {
                // The server went away (a restart, a failover): the idle connections broke with
                // this one, so the next requests dial afresh instead of each failing once.
                idle.withLock { $0.removeAll() }
            }
            throw error
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { conn in
            try conn.execute("BEGIN")
            do {
                let value = try body(conn)
                try conn.execute("COMMIT")
                return value
            } catch {
                if conn.isHealthy { _ = try? conn.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Closes the idle connections (those checked out close when returned and dropped).
    public func close() {
        idle.withLock { $0.removeAll() }
    }
}

/// A connection parked in the pool. Only one thread holds it at a time (the pool's lock hands
/// it over), which is what makes moving it between threads safe.
final class PostgresConnectionBox: @unchecked Sendable {
    let connection: PostgresConnection
    init(_ connection: PostgresConnection) { self.connection = connection }
}
