import Foundation
import Testing

/// `POST /v1/jobs?preset=NAME` with the model as the body uploads and queues in one request.
@Suite("one-shot job")
struct OneShotJobTests {
    @Test("POST /v1/jobs?preset=w8 with the model as body → 202, and the job succeeds")
    func oneShotJobSucceeds() throws {
        let server = try TestServer()
        defer { server.stop() }
        let fixture = SafetensorsFixture.standard(seed: 3)
        let response = try server.request("POST", "/v1/jobs?preset=w8",
                                          headers: [("Content-Type", "application/octet-stream")], body: fixture.bytes)
        #expect(response.status == 202, "\(response.text)")
        let jobID = try #require(response.json["id"] as? String)
        #expect(response.header("Location") == "/v1/jobs/\(jobID)")
        #expect(response.json["preset"] as? String == "w8")
        let modelID = try #require(response.json["model_id"] as? String)
        #expect(server.files(in: server.modelsDirectory) == [modelID], "the body was stored as a model")

        let job = try server.waitForJob(jobID)
        #expect(job["status"] as? String == "succeeded", "\(job)")
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let artifact = try ParsedSafetensors(Subprocess.gunzip(writeTemporary(server.downloadArtifact(jobID), in: dir)))
        W8ArtifactVerification.verify(artifact, against: fixture)
    }
}
