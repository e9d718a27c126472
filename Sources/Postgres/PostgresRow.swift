import Foundation

/// One row of a `PostgresResult` read by column name, converting PostgreSQL's text forms:
/// `t`/`f` booleans, numbers, and timestamps selected as `extract(epoch from …)`.
public struct PostgresRow: Sendable {
    private let values: [String: String?]

    public init(_ values: [String: String?]) { self.values = values }

    public struct Missing: Error, CustomStringConvertible {
        public var column: String
        public init(column: String) { self.column = column }
        public var description: String { "column \(column) is missing, NULL or not of the expected type" }
    }

    public func optionalString(_ column: String) -> String? { values[column] ?? nil }

    public func string(_ column: String) throws -> String {
        guard let v = optionalString(column) else { throw Missing(column: column) }
        return v
    }

    public func optionalInt64(_ column: String) throws -> Int64? {
        guard let v = optionalString(column) else { return nil }
        guard let n = Int64(v) else { throw Missing(column: column) }
        return n
    }

    public func int64(_ column: String) throws -> Int64 {
        guard let n = try optionalInt64(column) else { throw Missing(column: column) }
        return n
    }

    public func int(_ column: String) throws -> Int { Int(try int64(column)) }

    public func double(_ column: String) throws -> Double {
        guard let v = optionalString(column), let d = Double(v) else { throw Missing(column: column) }
        return d
    }

    public func bool(_ column: String) throws -> Bool {
        switch optionalString(column) {
        case "t": return true
        case "f": return false
        default: throw Missing(column: column)
        }
    }

    /// A timestamp the query selected as epoch seconds.
    public func optionalDate(_ column: String) throws -> Date? {
        guard let v = optionalString(column) else { return nil }
        guard let seconds = Double(v) else { throw Missing(column: column) }
        return Date(timeIntervalSince1970: seconds)
    }

    public func date(_ column: String) throws -> Date {
        guard let d = try optionalDate(column) else { throw Missing(column: column) }
        return d
    }
}

extension PostgresResult {
    public var namedRowValues: [PostgresRow] { namedRows.map(PostgresRow.init) }
}

/// Parameter text for the values statements take.
public enum PostgresParameter {
    /// Epoch seconds, for `to_timestamp($n::double precision)`.
    public static func date(_ date: Date?) -> String? { date.map { String($0.timeIntervalSince1970) } }
    public static func bool(_ value: Bool) -> String { value ? "true" : "false" }
    /// A `text[]` literal of identifiers (no quoting needed: ids are letters, digits and `_`).
    public static func textArray(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }
}
