import Foundation
import Postgres
import Testing

@Suite struct PostgresRowTests {
    @Test func readsPostgresTextForms() throws {
        let row = PostgresRow(["n": "42", "b": "t", "f": "f", "d": "1733461200.25", "s": "x", "null": nil])
        #expect(try row.int("n") == 42)
        #expect(try row.bool("b") && !(try row.bool("f")))
        #expect(try row.date("d") == Date(timeIntervalSince1970: 1733461200.25))
        #expect(try row.optionalDate("null") == nil)
        #expect(row.optionalString("absent") == nil)
        #expect(throws: PostgresRow.Missing.self) { try row.string("null") }
        #expect(throws: PostgresRow.Missing.self) { try row.int("s") }
        #expect(throws: PostgresRow.Missing.self) { try row.bool("n") }
    }

    @Test func namedRowsPairColumnsWithValues() {
        let result = PostgresResult(columns: ["a", "b"], rows: [["1", nil]], affectedRows: 0)
        #expect(result.namedRowValues.first?.optionalString("a") == "1")
        #expect(result.namedRowValues.first?.optionalString("b") == nil)
        #expect(result.scalar == "1")
    }

    @Test func textArraysQuoteEveryElement() {
        #expect(PostgresParameter.textArray(["job_1", "a\"b", "c\\d"]) == #"{"job_1","a\"b","c\\d"}"#)
        #expect(PostgresParameter.textArray([]) == "{}")
        #expect(PostgresParameter.bool(true) == "true")
        #expect(PostgresParameter.date(nil) == nil)
    }

    @Test func sqlStatesSortIntoUnavailableAndRefused() {
        #expect(PostgresError.statementFailed(sqlState: "57P01", message: "terminating").isUnavailable)
        #expect(PostgresError.statementFailed(sqlState: "08006", message: "connection failure").isUnavailable)
        #expect(!PostgresError.statementFailed(sqlState: "23505", message: "duplicate").isUnavailable)
        #expect(PostgresError.statementFailed(sqlState: "23505", message: "duplicate").isUniqueViolation)
    }
}
