import Foundation
import Testing

/// DELETE /v1/jobs/{id} cancels queued or running jobs only.
@Suite("job cancellation")
struct CancellationTests {
    @Test("DELETE of an unknown job is 404")
    func cancelUnknown() throws {
        let server = try TestServer()
        defer { server.stop() }
        expectProblem(try server.request("DELETE", "/v1/jobs/job_000000000000deadbeef"), status: 404, "unknown job")
    }

    @Test("DELETE of a succeeded job is 409 and the job stays succeeded with its artifact")
    func cancelSucceeded() throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(SafetensorsFixture.standard(seed: 31).bytes)
        let response = try server.request("DELETE", "/v1/jobs/\(jobID)")
        expectProblem(response, status: 409, "cancel succeeded job")
        #expect(response.json["type"] as? String == "https://quantd.dev/problems/conflict")
        #expect(try server.job(jobID)["status"] as? String == "succeeded")
        #expect(try server.get("/v1/jobs/\(jobID)/artifact").status == 200)
    }
}
