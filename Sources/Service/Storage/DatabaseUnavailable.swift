import Postgres

/// Whether `error` says the shared database could not be reached (a restart, a failover, the
/// network), as opposed to a statement it refused: requests get a 503 to retry, and a job's
/// outcome is written again until the database is back.
func isDatabaseUnavailable(_ error: any Error) -> Bool {
    (error as? PostgresError)?.isUnavailable == true
}

extension Problem {
    static func databaseUnavailable() -> Problem {
        Problem(503, "database-unavailable", "Database unavailable",
                "the job database cannot be reached right now; nothing was changed, retry in a few seconds", retryAfter: 2)
    }
}
