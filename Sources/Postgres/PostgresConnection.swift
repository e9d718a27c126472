import CPostgres
import Glibc

/// One libpq connection. Not shareable between threads: the pool hands it to one caller at a
/// time. Statements are sent with text parameters (`$1`, `$2`…) and never built by string
/// concatenation of values.
public final class PostgresConnection {
    private let conn: OpaquePointer

    /// Connects to `url` (`postgres://user:pass@host:port/db?sslmode=…`, libpq's own syntax, so
    /// every libpq option — TLS modes, certificates — works as documented). A connect timeout and
    /// TCP keepalives are set unless the URL sets them: a dead server must fail a request, not
    /// hang it.
    public init(url: String, applicationName: String = "quantd") throws {
        // tcp_user_timeout: keepalives stay silent while sent data waits for an answer, so a
        // server that stops answering mid-statement is only noticed through it.
        let keys = ["connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                    "application_name", "dbname"]
        let values = ["5", "10", "5", "3", "15000", applicationName, url]
        let connection: OpaquePointer? = withCStrings(keys) { k in
            withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let connection else { throw PostgresError.unavailable("out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.text(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError.unavailable(message)
        }
        conn = connection
        // Timestamps cross the wire as UTC text; and the claiming and upserting statements are
        // written for read committed, whatever the database's default isolation.
        _ = try execute("SET TIME ZONE 'UTC'; SET default_transaction_isolation = 'read committed'")
    }

    deinit { PQfinish(conn) }

    /// Whether the connection is still usable; a broken one is dropped, never pooled.
    public var isHealthy: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Runs one statement with text parameters (nil = NULL) and returns its rows. Without
    /// parameters the text may hold several statements (a migration); the last one's rows return.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> PostgresResult {
        let result: OpaquePointer? = parameters.isEmpty ? PQexec(conn, sql) : withOptionalCStrings(parameters) { values in
            PQexecParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw PostgresError.unavailable(Self.text(PQerrorMessage(conn))) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return Self.read(result)
        default:
            let message = Self.text(PQresultErrorMessage(result))
            guard isHealthy else { throw PostgresError.unavailable(message) }
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            throw PostgresError.statementFailed(sqlState: state, message: message.trimmingTrailingNewlines)
        }
    }

    /// Waits up to `timeout` seconds for notifications on the channels this connection LISTENs
    /// to; returns at once with those already received. Throws when the connection broke.
    public func notifications(timeout: Double) throws -> [PostgresNotification] {
        var received = drainNotifications()
        guard received.isEmpty else { return received }
        var pfd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(timeout * 1000))
        if ready < 0 && errno != EINTR { throw PostgresError.unavailable("poll: \(String(cString: strerror(errno)))") }
        if ready > 0 {
            guard PQconsumeInput(conn) == 1 else { throw PostgresError.unavailable(Self.text(PQerrorMessage(conn))) }
        }
        received = drainNotifications()
        guard isHealthy else { throw PostgresError.unavailable(Self.text(PQerrorMessage(conn))) }
        return received
    }

    private func drainNotifications() -> [PostgresNotification] {
        var out: [PostgresNotification] = []
        while let n = PQnotifies(conn) {
            out.append(PostgresNotification(channel: String(cString: n.pointee.relname), payload: String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }

    private static func read(_ result: OpaquePointer) -> PostgresResult {
        let columnCount = PQnfields(result), rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for r in 0..<rowCount {
            rows.append((0..<columnCount).map { c in
                PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresResult(columns: columns, rows: rows, affectedRows: affected)
    }

    private static func text(_ message: UnsafePointer<CChar>?) -> String {
        message.map { String(cString: $0) }?.trimmingTrailingNewlines ?? "unknown error"
    }
}

/// One NOTIFY received on a LISTENed channel.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String

    public init(channel: String, payload: String) {
        self.channel = channel
        self.payload = payload
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    withOptionalCStrings(strings.map { Optional($0) }) { pointer in
        // The keyword/value arrays libpq reads end with a NULL entry.
        body(pointer)
    }
}

/// The strings as a NULL-terminated array of C strings that lives for the call.
private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.last == "\n" { s.removeLast() }
        return s
    }
}
