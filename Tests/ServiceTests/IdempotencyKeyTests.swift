import Testing
@testable import Service

@Suite struct IdempotencyKeyTests {
    @Test(arguments: ["release-42", "550e8400-e29b-41d4-a716-446655440000", "a", String(repeating: "k", count: 255), "!~"])
    func acceptsVisibleASCII(_ header: String) throws {
        #expect(try IdempotencyKey.validated(header) == header)
    }

    @Test(arguments: ["", "has space", "tab\there", "é", String(repeating: "k", count: 256)])
    func refusesOthersNamingTheHeader(_ header: String) {
        let problem = try? #require(throws: Problem.self) { try IdempotencyKey.validated(header) }
        #expect(problem?.status == 400 && problem?.extensions["field"] == "Idempotency-Key")
    }

    @Test func noHeaderIsNoKey() throws {
        #expect(try IdempotencyKey.validated(nil) == nil)
    }

    @Test func theFingerprintIsTheRequestPartsAndBody() {
        func key(_ parts: [String], _ body: String = "") -> String {
            IdempotencyKey(tenant: "t", operation: .createJob, key: "k", request: parts, body: Array(body.utf8)).fingerprint
        }
        #expect(key(["json", "q", "application/json"], "{}") == key(["json", "q", "application/json"], "{}"))
        #expect(key(["json", "q", "application/json"], "{}") != key(["json", "q", "application/json"], "{ }"))
        #expect(key(["json", "q=1", "application/json"], "{}") != key(["json", "q=2", "application/json"], "{}"))
        // Part boundaries count: "ab" + "c" is not "a" + "bc".
        #expect(key(["ab", "c"]) != key(["a", "bc"]))
        #expect(key(["a"]).count == 64)
    }

    @Test func waitAndParameterOrderDoNotMakeAnotherRequest() {
        #expect(QueryString("wait=600&preset=w8&model_id=x").canonicalForIdempotency == QueryString("model_id=x&preset=w8").canonicalForIdempotency)
        #expect(QueryString("preset=w8").canonicalForIdempotency != QueryString("preset=w4-block32").canonicalForIdempotency)
        #expect(APIResponder.mediaType("Application/JSON; charset=utf-8") == "application/json")
        #expect(APIResponder.mediaType(nil) == "")
    }
}
