import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite struct PostgresConnectionTests {
    @Test func parametersAndNullsRoundTripAsText() throws {
        let conn = try PostgresConnection(url: try TestDatabase.make())
        let result = try conn.execute("SELECT $1::text AS a, $2::integer + 1 AS b, $3::text IS NULL AS c", ["it's \"quoted\"; --", "41", nil])
        #expect(result.columns == ["a", "b", "c"])
        #expect(result.rows == [["it's \"quoted\"; --", "42", "t"]])
    }

    @Test func affectedRowsAndSeveralStatementsWithoutParameters() throws {
        let conn = try PostgresConnection(url: try TestDatabase.make())
        try conn.execute("CREATE TABLE t (id integer PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)")
        #expect(try conn.execute("UPDATE t SET id = id + 10 WHERE id > $1::integer", ["1"]).affectedRows == 2)
        #expect(try conn.execute("SELECT count(*) FROM t").scalar == "3")
    }

    @Test func aRefusedStatementCarriesItsSQLState() throws {
        let conn = try PostgresConnection(url: try TestDatabase.make())
        try conn.execute("CREATE TABLE t (id integer PRIMARY KEY)")
        try conn.execute("INSERT INTO t VALUES ($1::integer)", ["1"])
        let error = try #require(throws: PostgresError.self) { try conn.execute("INSERT INTO t VALUES ($1::integer)", ["1"]) }
        #expect(error.isUniqueViolation)
        #expect(!error.isUnavailable)
        // The connection is still usable after a refused statement.
        #expect(try conn.execute("SELECT 1").scalar == "1")
    }

    @Test func theURLsSSLModeDecidesWhetherTheConnectionIsEncrypted() throws {
        let url = try TestDatabase.make()
        let encrypted = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        #expect(try PostgresConnection(url: url + "?sslmode=require").execute(encrypted).scalar == "t")
        #expect(try PostgresConnection(url: url + "?sslmode=disable").execute(encrypted).scalar == "f")
        // verify-full needs a CA the throwaway certificate is not signed by.
        let error = try #require(throws: PostgresError.self) { try PostgresConnection(url: url + "?sslmode=verify-full&sslrootcert=/dev/null") }
        #expect(error.isUnavailable)
    }

    @Test func anUnreachableServerIsUnavailableNotAHang() throws {
        let error = try #require(throws: PostgresError.self) { try PostgresConnection(url: "postgres://nobody@127.0.0.1:1/none") }
        #expect(error.isUnavailable)
    }

    @Test func notificationsReachAListeningConnection() throws {
        let url = try TestDatabase.make()
        let listener = try PostgresConnection(url: url), sender = try PostgresConnection(url: url)
        try listener.execute("LISTEN quantd_test")
        #expect(try listener.notifications(timeout: 0.05).isEmpty)
        try sender.execute("SELECT pg_notify('quantd_test', $1)", ["job_1"])
        var received: [PostgresNotification] = []
        for _ in 0..<50 where received.isEmpty { received = try listener.notifications(timeout: 0.1) }
        #expect(received == [PostgresNotification(channel: "quantd_test", payload: "job_1")])
    }
}
