import Testing
@testable import Service

@Suite struct RouteTests {
    @Test(arguments: [
        ("GET", "/healthz", Route.health), ("HEAD", "/readyz", .ready), ("GET", "/metrics", .metrics),
        ("GET", "/openapi.yaml", .openapi), ("GET", "/v1/presets", .presets),
        ("POST", "/v1/models", .uploadModel), ("GET", "/v1/models/abc", .getModel("abc")),
        ("POST", "/v1/datasets", .uploadDataset), ("GET", "/v1/datasets", .listDatasets),
        ("GET", "/v1/datasets/d1", .getDataset("d1")), ("DELETE", "/v1/datasets/d1", .deleteDataset("d1")),
        ("POST", "/v1/jobs", .createJob), ("GET", "/v1/jobs", .listJobs),
        ("GET", "/v1/jobs/j1", .getJob("j1")), ("DELETE", "/v1/jobs/j1", .cancelJob("j1")),
        ("GET", "/v1/jobs/j1/artifact", .artifact("j1")), ("HEAD", "/v1/jobs/j1/report", .report("j1")),
        ("GET", "/v1/nothing", .notFound), ("GET", "/", .notFound), ("GET", "/v1/jobs/j1/other", .notFound),
        ("GET", "/v2/jobs", .notFound),
    ])
    func matches(method: String, path: String, expected: Route) {
        #expect(Route.match(method: method, path: Substring(path)) == expected)
    }

    @Test(arguments: [
        ("DELETE", "/healthz", ["GET", "HEAD"]), ("GET", "/v1/models", ["POST"]),
        ("PUT", "/v1/jobs/j1", ["GET", "HEAD", "DELETE"]),
        ("PATCH", "/v1/datasets", ["GET", "HEAD", "POST"]), ("POST", "/v1/datasets/d1", ["GET", "HEAD", "DELETE"]), ("POST", "/v1/jobs/j1/artifact", ["GET", "HEAD"]),
    ])
    func wrongMethodListsTheAllowedOnes(method: String, path: String, allowed: [String]) {
        #expect(Route.match(method: method, path: Substring(path)) == .methodNotAllowed(allowed: allowed))
    }

    @Test func operationalRoutesNeedNoToken() {
        #expect(!Route.health.requiresAuthentication)
        #expect(!Route.metrics.requiresAuthentication)
        #expect(Route.uploadModel.requiresAuthentication)
        #expect(Route.getJob("x").requiresAuthentication)
    }

    @Test func queryStringDecodesAndKeepsFirstValue() {
        let q = QueryString("status=queued&limit=5&cursor=a%2Fb&status=failed&flag&name=a+b")
        #expect(q["status"] == "queued")
        #expect(q["limit"] == "5")
        #expect(q["cursor"] == "a/b")
        #expect(q["flag"] == "")
        #expect(q["name"] == "a b")
        #expect(q["missing"] == nil)
    }
}
