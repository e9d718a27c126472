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
}
