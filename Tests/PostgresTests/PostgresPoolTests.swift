import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite struct PostgresPoolTests {
    @Test func thePoolRunsTransactionsAndRollsBackOnError() throws {
        let pool = PostgresPool(url: try TestDatabase.make(), size: 2)
        try pool.withConnection { try $0.execute("CREATE TABLE t (id integer)") }
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try pool.transaction { conn in
                try conn.execute("INSERT INTO t VALUES (1)")
                throw Abort()
            }
        }
        try pool.transaction { try $0.execute("INSERT INTO t VALUES (2)") }
        #expect(try pool.withConnection { try $0.execute("SELECT id FROM t").rows } == [["2"]])
    }

    @Test func aFullPoolTimesOutInsteadOfWaitingForever() throws {
        let pool = PostgresPool(url: try TestDatabase.make(), size: 1, checkoutTimeout: 0.2)
        try pool.withConnection { _ in
            let error = try #require(throws: PostgresError.self) { try pool.withConnection { _ in } }
            #expect(error == .poolExhausted(seconds: 0.2))
        }
    }

    @Test func aBrokenConnectionIsDroppedAndTheNextCheckoutDialsAnew() throws {
        let url = try TestDatabase.make()
        let pool = PostgresPool(url: url, size: 2)
        let pid = try pool.withConnection { try $0.execute("SELECT pg_backend_pid()").scalar }
        // The server ends that backend, as a restart or a failover would.
        try PostgresConnection(url: url).execute("SELECT pg_terminate_backend($1::integer)", [pid])
        let error = try #require(throws: PostgresError.self) { try pool.withConnection { try $0.execute("SELECT 1") } }
        #expect(error.isUnavailable)
        let next = try pool.withConnection { try $0.execute("SELECT pg_backend_pid()").scalar }
        #expect(next != nil && next != pid)
    }
}
