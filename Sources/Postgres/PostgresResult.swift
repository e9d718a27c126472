/// The rows a statement returned, in PostgreSQL's text format: a plain value, read after the
/// libpq result is freed.
public struct PostgresResult: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String?]]
    /// Rows an INSERT, UPDATE or DELETE touched.
    public var affectedRows: Int

    public init(columns: [String], rows: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// Each row as column name → text (nil for NULL).
    public var namedRows: [[String: String?]] {
        rows.map { row in
            var named: [String: String?] = [:]
            for (name, value) in zip(columns, row) { named[name] = .some(value) }
            return named
        }
    }

    /// The first column of the first row, for `SELECT count(*)` and the like.
    public var scalar: String? { rows.first?.first ?? nil }
}
