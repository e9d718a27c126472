import Foundation
import HTTP
import Testing
@testable import Service

@Suite struct ProblemTests {
    static func body(_ r: HTTPResponse) throws -> [String: Any] {
        guard case .bytes(let b) = r.body else { throw CancellationError() }
        return try #require(try JSONSerialization.jsonObject(with: Data(b)) as? [String: Any])
    }

    @Test func rendersRFC9457WithExtensions() throws {
        let r = Problem.invalidConfig("must be one of int8, uint8", field: "config.global_config.dtype").response
        #expect(r.status == 422)
        #expect(r.headers["Content-Type"] == "application/problem+json")
        let o = try Self.body(r)
        #expect(o["type"] as? String == "https://quantd.dev/problems/invalid-config")
        #expect(o["status"] as? Int == 422)
        #expect(o["field"] as? String == "config.global_config.dtype")
        #expect((o["detail"] as? String)?.isEmpty == false)
    }

    @Test func retryAfterAndAuthenticateHeaders() {
        #expect(Problem.queueFull(capacity: 3).response.headers["Retry-After"] == "5")
        #expect(Problem.unauthorized().response.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
    }

    @Test(arguments: [(400, "malformed-request"), (408, "request-timeout"), (413, "payload-too-large"),
                      (431, "headers-too-large"), (503, "overloaded"), (505, "http-version-not-supported")])
    func httpLayerProblemsHaveStableTypes(status: Int, kind: String) throws {
        let o = try Self.body(Problem.http(status: status, detail: "x").response)
        #expect(o["type"] as? String == Problem.typeBase + kind)
    }
}
