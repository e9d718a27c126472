import Foundation
import Testing

/// `jobs.queue_capacity`: a full queue refuses new jobs with 429 and Retry-After.
@Suite("queue capacity")
struct QueueLimitTests {
    @Test("with capacity 0, POST /v1/jobs is 429 with Retry-After and no job is left queued")
    func fullQueueRefuses() throws {
        let server = try TestServer { $0.queueCapacity = 0 }
        defer { server.stop() }
        let modelID = try #require(try server.uploadModel(SafetensorsFixture.standard(seed: 29).bytes)["id"] as? String)
        let response = try server.postJSON("/v1/jobs", ["model_id": modelID, "preset": "w8"])
        expectProblem(response, status: 429, "queue full")
        #expect(response.json["type"] as? String == "https://quantd.dev/problems/queue-full")
        let retry = try #require(response.header("Retry-After"))
        #expect((Int(retry) ?? 0) > 0, "Retry-After is a positive number of seconds: \(retry)")

        let list = try server.get("/v1/jobs?status=queued")
        #expect(list.status == 200)
        #expect((list.json["jobs"] as? [Any])?.isEmpty == true, "the refused job is not waiting anywhere: \(list.text)")
    }
}
