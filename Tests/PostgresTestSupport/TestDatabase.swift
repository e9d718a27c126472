import Foundation
import Postgres

/// Fresh databases on the throwaway PostgreSQL cluster `scripts/test` starts
/// (`scripts/postgres-cluster`), which exports its URL as `QUANTD_TEST_DATABASE_URL` and its
/// folder as `QUANTD_TEST_POSTGRES_DIR`.
public enum TestDatabase {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The cluster's URL (its `postgres` database).
    public static func clusterURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["QUANTD_TEST_DATABASE_URL"], !url.isEmpty else {
            throw Unavailable(description: """
                QUANTD_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL, \
                or start one with `scripts/postgres-cluster start DIR` and export QUANTD_TEST_DATABASE_URL=<the URL it prints> \
                and QUANTD_TEST_POSTGRES_DIR=DIR
                """)
        }
        return url
    }

    /// The cluster's folder, for tests that stop and start the server.
    public static func clusterDirectory() throws -> String {
        guard let dir = ProcessInfo.processInfo.environment["QUANTD_TEST_POSTGRES_DIR"], !dir.isEmpty else {
            throw Unavailable(description: "QUANTD_TEST_POSTGRES_DIR is not set: run the tests with scripts/test")
        }
        return dir
    }

    /// Creates an empty database and returns its URL.
    public static func make(prefix: String = "t") throws -> String {
        let base = try clusterURL()
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        try PostgresConnection(url: base).execute("CREATE DATABASE \(name)")
        return url(base, database: name)
    }

    /// `base` with its database name replaced by `database`.
    static func url(_ base: String, database: String) -> String {
        let (address, query) = base.firstIndex(of: "?").map { (String(base[..<$0]), String(base[$0...])) } ?? (base, "")
        let schemeEnd = address.range(of: "://")?.upperBound ?? address.startIndex
        let slash = address[schemeEnd...].firstIndex(of: "/") ?? address.endIndex
        return String(address[..<slash]) + "/" + database + query
    }
}
