import Foundation
import Testing

/// `GET /v1/jobs/{id}?wait=S`: one request that answers when the job finishes.
@Suite("long-polling a job")
struct LongPollTests {
    @Test("a wait sent right after the job is queued answers with the finished job")
    func waitReturnsTheFinishedJob() throws {
        let server = try TestServer()
        defer { server.stop() }
        // 8-bit k-means on 2 M weights takes long enough that a plain GET at once sees it queued or running.
        let modelID = try #require(try server.uploadModel(SafetensorsFixture.large(megabytes: 8, seed: 41).bytes)["id"] as? String)
        let jobID = try server.createJob(modelID: modelID, preset: "palettize-8")
        let response = try server.get("/v1/jobs/\(jobID)?wait=120")
        #expect(response.status == 200)
        #expect(response.json["status"] as? String == "succeeded", "\(response.text)")
        #expect(response.json["progress"] as? Double == 1)
        #expect(try server.get("/v1/jobs/\(jobID)/artifact").status == 200, "the artifact is in place when the wait answers")
    }

    @Test("wait=0 answers at once with the job as it is")
    func waitZero() throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(SafetensorsFixture.standard(seed: 42).bytes)
        let response = try server.get("/v1/jobs/\(jobID)?wait=0")
        #expect(response.status == 200)
        #expect(response.json["id"] as? String == jobID)
        #expect(response.json["status"] as? String == "succeeded")
    }

    @Test("a wait that is not 0…600 seconds is a 400 naming the field", arguments: ["", "abc", "-1", "601", "nan", "inf", "1e9"])
    func badWait(_ value: String) throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(SafetensorsFixture.standard(seed: 43).bytes)
        let response = try server.get("/v1/jobs/\(jobID)?wait=\(value)")
        expectProblem(response, status: 400, "wait=\(value)")
        #expect(response.json["field"] as? String == "wait")
        #expect(try server.job(jobID)["status"] as? String == "succeeded", "the server keeps serving")
    }

    @Test("a wait on an unknown job is 404 at once")
    func unknownJob() throws {
        let server = try TestServer()
        defer { server.stop() }
        expectProblem(try server.get("/v1/jobs/job_000000000000deadbeef?wait=30"), status: 404, "unknown job")
    }

    @Test("POST /v1/jobs?preset=w8&wait=S with the model as body: one request that answers 200 with the finished job")
    func oneShotWithWait() throws {
        let server = try TestServer()
        defer { server.stop() }
        let response = try server.request("POST", "/v1/jobs?preset=w8&wait=120",
                                          headers: [("Content-Type", "application/octet-stream")],
                                          body: SafetensorsFixture.standard(seed: 44).bytes)
        #expect(response.status == 200, "\(response.text)")
        #expect(response.json["status"] as? String == "succeeded")
        let jobID = try #require(response.json["id"] as? String)
        #expect(response.header("Location") == "/v1/jobs/\(jobID)")
        #expect(try server.get("/v1/jobs/\(jobID)/artifact").status == 200)
    }

    @Test("POST /v1/jobs?wait=S with a JSON job answers with the finished job; wait=0 with the job as it is")
    func jsonJobWithWait() throws {
        let server = try TestServer()
        defer { server.stop() }
        let modelID = try #require(try server.uploadModel(SafetensorsFixture.standard(seed: 45).bytes)["id"] as? String)
        let waited = try server.postJSON("/v1/jobs?wait=120", ["model_id": modelID, "preset": "w8"])
        #expect(waited.status == 200, "\(waited.text)")
        #expect(waited.json["status"] as? String == "succeeded")

        let now = try server.postJSON("/v1/jobs?wait=0", ["model_id": modelID, "preset": "w8"])
        let status = try #require(now.json["status"] as? String)
        #expect(now.status == (["succeeded", "failed", "cancelled"].contains(status) ? 200 : 202), "\(now.status) \(status)")
    }

    @Test("a bad wait on POST /v1/jobs is a 400 before the model is stored or a job queued")
    func badWaitOnCreate() throws {
        let server = try TestServer()
        defer { server.stop() }
        let response = try server.request("POST", "/v1/jobs?preset=w8&wait=forever",
                                          headers: [("Content-Type", "application/octet-stream")],
                                          body: SafetensorsFixture.standard(seed: 46).bytes)
        expectProblem(response, status: 400, "wait=forever")
        #expect(response.json["field"] as? String == "wait")
        #expect(server.files(in: server.modelsDirectory).isEmpty, "no model was stored")
        #expect((try server.get("/v1/jobs").json["jobs"] as? [Any])?.isEmpty == true, "no job was queued")
    }
}
