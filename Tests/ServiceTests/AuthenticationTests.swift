import Foundation
import Testing

/// With `server.api_tokens` set, /v1 needs `Authorization: Bearer <token>`; operational
/// endpoints do not. The check runs on the head, before any body byte is accepted.
@Suite("authentication")
struct AuthenticationTests {
    @Test("/v1 without a token is 401 with WWW-Authenticate; with it the upload is 201")
    func tokenRequiredOnV1() throws {
        let server = try TestServer { $0.apiTokens = ["secret"] }
        defer { server.stop() }
        let model = SafetensorsFixture.standard(seed: 23).bytes

        let anonymous = try server.request("POST", "/v1/models", body: model)
        expectProblem(anonymous, status: 401, "no token")
        #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(try server.get("/v1/presets").status == 401)

        let wrong = try server.request("POST", "/v1/models", headers: [("Authorization", "Bearer secreT")], body: model)
        expectProblem(wrong, status: 401, "wrong token")
        let longer = try server.get("/v1/presets", headers: [("Authorization", "Bearer secret2")])
        #expect(longer.status == 401, "a token that merely starts with the secret is refused")

        let authorized = try server.request("POST", "/v1/models", headers: [("Authorization", "Bearer secret")], body: model)
        #expect(authorized.status == 201, "\(authorized.text)")
        #expect(server.files(in: server.modelsDirectory).count == 1, "only the authorized upload was stored")
    }

    @Test("a 2 MB upload with Expect and no token gets 401 before any 100")
    func unauthorizedUploadRefusedBeforeContinue() throws {
        let server = try TestServer { $0.apiTokens = ["secret"] }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send(RawHTTPClient.requestBytes("POST", "/v1/models", headers: [
            ("Content-Type", "application/octet-stream"), ("Content-Length", "\(2_000_000)"), ("Expect", "100-continue"),
        ]))
        let response = try client.readResponse()
        #expect(response.status != 100, "no 100 Continue before authentication")
        expectProblem(response, status: 401, "expect without token")
        #expect(response.header("WWW-Authenticate") != nil)
        #expect(server.files(in: server.tmpDirectory).isEmpty, "no temp file for a refused upload")
    }

    @Test("/healthz, /readyz, /metrics and /openapi.yaml need no token")
    func operationalEndpointsAreOpen() throws {
        let server = try TestServer { $0.apiTokens = ["secret"] }
        defer { server.stop() }
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
            #expect(try server.get(path).status == 200, "\(path)")
        }
    }
}
