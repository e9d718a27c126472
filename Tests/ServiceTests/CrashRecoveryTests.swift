import Foundation
import Testing
@testable import Service

/// A crash (kill -9) at any point loses no accepted job and leaves nothing half-written.
@Suite("crash recovery")
struct CrashRecoveryTests {
    @Test("after kill -9 mid-job, a restart on the same data dir finishes every job")
    func restartAfterKill() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/data"
        let settings = ["jobs.workers=1", "storage.retention_hours=0", "log.level=info"]

        let fixture = SafetensorsFixture.large(megabytes: 42)
        var jobIDs: [String] = []
        var statusesAtKill: [String] = []
        do {
            let first = try QuantdProcess(dataDirectory: data, settings: settings, workingDirectory: root)
            let model = try first.uploadModel(fixture.bytes)
            let modelID = try #require(model["id"] as? String)
            for _ in 0..<3 { jobIDs.append(try first.createJob(modelID: modelID)) }
            statusesAtKill = try jobIDs.map { try first.job($0)["status"] as? String ?? "?" }
            first.killHard()
        }
        #expect(statusesAtKill.contains { $0 == "queued" || $0 == "running" },
                "at least one job was unfinished when the server died: \(statusesAtKill)")

        let second = try QuantdProcess(dataDirectory: data, settings: settings, workingDirectory: root)
        defer { second.terminate() }
        for id in jobIDs {
            let job = try second.waitForJob(id, timeout: 180)
            #expect(job["status"] as? String == "succeeded", "job \(id) after restart: \(job)\nlog:\n\(second.log)")
            #expect((job["attempts"] as? Int ?? 0) >= 1)
            let gz = try writeTemporary(second.downloadArtifact(id), in: root)
            let artifact = try ParsedSafetensors(Subprocess.gunzip(gz))
            try FileManager.default.removeItem(atPath: gz)
            for t in fixture.tensors {
                #expect(artifact.info(t.name)?.dtype == .int8, "\(id): \(t.name) quantized")
                #expect(artifact.info(t.name + "::scale")?.shape == [t.shape[0], 1])
            }
        }
        #expect(second.files(in: second.tmpDirectory).isEmpty, "tmp/ holds nothing once the jobs are done: \(second.files(in: second.tmpDirectory))")
        #expect(second.files(in: second.dataDirectory + "/artifacts").filter { $0.hasSuffix(".gz") }.count == 3)
    }
}

@Suite("attempts across restarts")
struct AttemptLimitTests {
    @Test("a job cut off jobs.max_attempts times fails saying why; one cancelled meanwhile ends cancelled")
    func exhaustedJobsFailAtStart() throws {
        let server = try TestServer { config in
            config.maxAttempts = 2
            // The database as a process killed twice mid-job (and once mid-cancel) left it.
            try? FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
            let store = try? SQLiteJobStore(path: config.dataDirectory + "/quantd.sqlite")
            try? store?.insert(AttemptPolicyTests.running(attempts: 2))
            var cancelled = AttemptPolicyTests.running(attempts: 1, cancelRequested: true)
            cancelled.id = "job_y"
            try? store?.insert(cancelled)
        }
        defer { server.stop() }
        let exhausted = try server.job("job_x")
        #expect(exhausted["status"] as? String == "failed")
        #expect((exhausted["error"] as? String)?.contains("jobs.max_attempts = 2") == true, "\(exhausted)")
        #expect(try server.job("job_y")["status"] as? String == "cancelled")
    }
}
