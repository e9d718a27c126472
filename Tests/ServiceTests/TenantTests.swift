import Foundation
import Testing
@testable import Service

/// Tenants from a tokens file: each sees only its own models, jobs, reports and artifacts
/// (another tenant's are 404, never 403), shares stored bytes without sharing visibility, and
/// is held to its own queue and storage limits.
@Suite struct TenantTests {
    /// A server with tenants `vision` and `speech` (tokens "tv" and "ts"), plus `configure`.
    static func server(_ configure: @escaping (inout Configuration) -> Void = { _ in }) throws -> (TestServer, String) {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/tokens"
        try TokenFile.update(path: path) { file in
            file.entries = [.init(tenant: "vision", digest: TokenFile.digest(of: "tv")),
                            .init(tenant: "speech", digest: TokenFile.digest(of: "ts"))]
        }
        let server = try TestServer {
            $0.tokensPath = path
            configure(&$0)
        }
        return (server, dir)
    }

    static let vision = [("Authorization", "Bearer tv")]
    static let speech = [("Authorization", "bearer ts")]

    @Test func anotherTenantsJobsModelsAndOutputsDoNotExistForIt() throws {
        let (server, dir) = try Self.server()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let model = SafetensorsFixture.standard(seed: 31).bytes
        let upload = try server.request("POST", "/v1/models", headers: Self.vision, body: model)
        #expect(upload.status == 201)
        let modelID = try #require(upload.json["id"] as? String)
        let created = try server.request("POST", "/v1/jobs", headers: Self.vision + [("Content-Type", "application/json")],
                                         body: Array(#"{"model_id":"\#(modelID)","preset":"w8"}"#.utf8))
        #expect(created.status == 202)
        let jobID = try #require(created.json["id"] as? String)
        #expect(try server.request("GET", "/v1/jobs/\(jobID)?wait=60", headers: Self.vision).json["status"] as? String == "succeeded")

        for path in ["/v1/jobs/\(jobID)", "/v1/jobs/\(jobID)/artifact", "/v1/jobs/\(jobID)/report", "/v1/models/\(modelID)",
                     "/v1/jobs/\(jobID)?wait=30"] {
            expectProblem(try server.request("GET", path, headers: Self.speech), status: 404, path)
        }
        expectProblem(try server.request("DELETE", "/v1/jobs/\(jobID)", headers: Self.speech), status: 404, "cancel")
        let borrowed = try server.request("POST", "/v1/jobs", headers: Self.speech + [("Content-Type", "application/json")],
                                          body: Array(#"{"model_id":"\#(modelID)","preset":"w8"}"#.utf8))
        expectProblem(borrowed, status: 404, "a job on another tenant's model")
        let estimate = try server.request("POST", "/v1/estimate", headers: Self.speech + [("Content-Type", "application/json")],
                                          body: Array(#"{"model_id":"\#(modelID)","configs":["w8"]}"#.utf8))
        expectProblem(estimate, status: 404, "an estimate on another tenant's model")
        let list = try server.request("GET", "/v1/jobs", headers: Self.speech)
        #expect((list.json["jobs"] as? [Any])?.isEmpty == true, "\(list.text)")
        let own = try server.request("GET", "/v1/jobs", headers: Self.vision)
        #expect((own.json["jobs"] as? [[String: Any]])?.map { $0["id"] as? String } == [jobID])
        #expect(try server.request("GET", "/v1/jobs/\(jobID)/artifact", headers: Self.vision).status == 200)
    }

    @Test func theSameUploadByTwoTenantsIsStoredOnceAndOwnedByBoth() throws {
        let (server, dir) = try Self.server()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let model = SafetensorsFixture.standard(seed: 32).bytes
        let a = try server.request("POST", "/v1/models", headers: Self.vision, body: model)
        let b = try server.request("POST", "/v1/models", headers: Self.speech, body: model)
        #expect(a.status == 201 && b.status == 201)
        let id = try #require(a.json["id"] as? String)
        #expect(b.json["id"] as? String == id)
        #expect(server.files(in: server.modelsDirectory) == [id])
        #expect(try server.request("GET", "/v1/models/\(id)", headers: Self.vision).status == 200)
        #expect(try server.request("GET", "/v1/models/\(id)", headers: Self.speech).status == 200)
        expectProblem(try server.get("/v1/models/\(id)"), status: 401, "anonymous")
        expectProblem(try server.request("GET", "/v1/models/\(id)", headers: [("Authorization", "Bearer nope")]), status: 401, "unknown token")
    }

    @Test func aTenantOverItsQueueLimitGets429WhileOthersQueue() throws {
        let (server, dir) = try Self.server { $0.tenantMaxQueuedJobs = 1 }
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let model = SafetensorsFixture.large(megabytes: 48).bytes
        let modelID = try #require(try server.request("POST", "/v1/models", headers: Self.vision, body: model).json["id"] as? String)
        let speechModel = try #require(try server.request("POST", "/v1/models", headers: Self.speech, body: model).json["id"] as? String)
        let body = { (id: String) in Array(#"{"model_id":"\#(id)","preset":"palettize-8"}"#.utf8) }
        var statuses: [Int] = []
        var refused: HTTPTestResponse?
        for _ in 0..<4 {
            let r = try server.request("POST", "/v1/jobs", headers: Self.vision + [("Content-Type", "application/json")], body: body(modelID))
            statuses.append(r.status)
            if r.status == 429 { refused = r; break }
        }
        let problem = try #require(refused, "no 429 among \(statuses)")
        expectProblem(problem, status: 429, "vision over its queue")
        #expect((problem.json["type"] as? String)?.hasSuffix("/tenant-queue-full") == true)
        #expect(problem.header("Retry-After") != nil)
        let other = try server.request("POST", "/v1/jobs", headers: Self.speech + [("Content-Type", "application/json")], body: body(speechModel))
        #expect(other.status == 202, "speech still queues: \(other.text)")
    }

    @Test func aTenantOverItsStorageLimitGets413AndNothingIsStored() throws {
        let first = SafetensorsFixture.standard(seed: 33).bytes
        let (server, dir) = try Self.server { $0.tenantMaxStoredBytes = Int64(first.count + first.count / 2) }
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        #expect(try server.request("POST", "/v1/models", headers: Self.vision, body: first).status == 201)
        #expect(try server.request("POST", "/v1/models", headers: Self.vision, body: first).status == 201, "the same bytes again cost nothing")
        let second = SafetensorsFixture.standard(seed: 34).bytes
        let refused = try server.request("POST", "/v1/models", headers: Self.vision, body: second)
        expectProblem(refused, status: 413, "over quota")
        #expect((refused.json["type"] as? String)?.hasSuffix("/storage-quota-exceeded") == true)
        #expect(server.files(in: server.modelsDirectory).count == 1)
        #expect(try server.request("POST", "/v1/models", headers: Self.speech, body: second).status == 201, "speech has its own quota")
    }

    @Test func metricsCanRequireAToken() throws {
        let (server, dir) = try Self.server { $0.metricsRequireToken = true }
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        expectProblem(try server.get("/metrics"), status: 401, "metrics without a token")
        #expect(try server.request("GET", "/metrics", headers: Self.speech).status == 200)
        #expect(try server.get("/healthz").status == 200)
        #expect(try server.get("/readyz").status == 200)
    }

    /// The CLI as an operator uses it: add prints the token once on its last line, the server
    /// accepts it, revoke takes it away without a restart.
    @Test func tokenAddAndRevokeWithTheBinary() throws {
        let (server, dir) = try Self.server()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let added = try Subprocess.run(QuantdProcess.binary, ["token", "add", "audio", "--tokens-path", dir + "/tokens"])
        #expect(added.exitCode == 0, "\(added.stderr)")
        let token = try #require(String(decoding: added.stdout, as: UTF8.self).split(separator: "\n").last.map(String.init))
        #expect(!(try String(contentsOfFile: dir + "/tokens", encoding: .utf8)).contains(token))
        let accepted = waitUntil(timeout: 5) { (try? server.request("GET", "/v1/jobs", headers: [("Authorization", "Bearer \(token)")]).status) == 200 }
        #expect(accepted)
        let revoked = try Subprocess.run(QuantdProcess.binary, ["token", "revoke", "audio", "--tokens-path", dir + "/tokens"])
        #expect(revoked.exitCode == 0, "\(revoked.stderr)")
        let refused = waitUntil(timeout: 5) { (try? server.request("GET", "/v1/jobs", headers: [("Authorization", "Bearer \(token)")]).status) == 401 }
        #expect(refused)
        #expect(try server.request("GET", "/v1/jobs", headers: Self.vision).status == 200, "other tenants' tokens stay")
    }
}
