import Foundation
import GRDB
import Testing
@testable import Service

/// Artifacts stored by earlier versions as several concatenated gzip members are served as one
/// member: curl --compressed (and every browser) would otherwise stop after the first.
@Suite struct ArtifactRewriteTests {
    /// A gzip file of several members, as quantd wrote artifacts before: each piece compressed
    /// on its own by the system gzip and the results concatenated.
    static func severalMembers(_ bytes: [UInt8], piece: Int, in dir: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        while offset < bytes.count {
            let path = dir + "/piece"
            try Data(bytes[offset..<min(bytes.count, offset + piece)]).write(to: URL(fileURLWithPath: path))
            let gz = try Subprocess.run("gzip", ["-1", "-c", path])
            out += gz.stdout
            offset += piece
        }
        return out
    }

    @Test func anArtifactStoredAsSeveralMembersIsRewrittenAsOneOnFirstDownload() throws {
        let first = try TestServer()
        let dataDirectory = first.dataDirectory
        defer { try? FileManager.default.removeItem(atPath: first.root) }
        let (_, jobID) = try first.succeededJob(SafetensorsFixture.large(megabytes: 24).bytes)
        first.shutdown()

        // What an earlier version left: the artifact in 1 MiB members, the row saying so.
        let path = dataDirectory + "/artifacts/\(jobID).gz"
        let model = try Subprocess.gunzip(path)
        #expect(model.count > 4 << 20)
        let scratch = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Data(try Self.severalMembers(model, piece: 1 << 20, in: scratch)).write(to: URL(fileURLWithPath: path))
        try SQLiteJobStore(path: dataDirectory + "/quantd.sqlite").update(jobID) { $0.artifactEncoding = .gzipMembers }

        let server = try TestServer { $0.dataDirectory = dataDirectory }
        defer { server.stop() }
        let out = scratch + "/model.safetensors"
        let download = try Curl.run(["--compressed", "-o", out, server.baseURL + "/v1/jobs/\(jobID)/artifact"])
        #expect(download.exitCode == 0, "\(download.stderr)")
        #expect(download.final?.header("Content-Encoding") == "gzip")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: out))) == model)

        let stored = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(ParallelGzipTests.gunzip(stored) == model, "the stored artifact is now exactly one member")
        #expect(try server.job(jobID)["artifact_bytes"] as? Int == stored.count)
        // The next download serves the rewritten file as it is.
        let again = try server.downloadArtifact(jobID)
        #expect(again == stored)
    }

    /// A database from before artifact encodings were recorded: its succeeded jobs' artifacts
    /// are marked as several members, anything else has none.
    @Test func theMigrationMarksEarlierArtifactsAsSeveralMembers() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/quantd.sqlite"
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            // The schema as migrations v1 and v2 left it.
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1'), ('v2: minimum_deployment_target');
                CREATE TABLE models (id TEXT PRIMARY KEY, format TEXT NOT NULL, bytes INTEGER NOT NULL,
                    tensor_count INTEGER NOT NULL, parameter_count INTEGER NOT NULL, created_at DATETIME NOT NULL,
                    last_used_at DATETIME NOT NULL);
                CREATE TABLE jobs (id TEXT PRIMARY KEY, model_id TEXT NOT NULL, status TEXT NOT NULL, progress DOUBLE NOT NULL,
                    config TEXT NOT NULL, preset TEXT, created_at DATETIME NOT NULL, started_at DATETIME,
                    finished_at DATETIME, error TEXT, artifact_bytes INTEGER, artifact_name TEXT, attempts INTEGER NOT NULL,
                    expired BOOLEAN NOT NULL, revision INTEGER NOT NULL, minimum_deployment_target TEXT);
                """)
            for (id, status) in [("job_done", "succeeded"), ("job_waiting", "queued"), ("job_failed", "failed")] {
                try db.execute(sql: """
                    INSERT INTO jobs (id, model_id, status, progress, config, created_at, attempts, expired, revision)
                    VALUES (?, 'm', ?, 0, '{}', '2026-11-01 00:00:00.000', 1, 0, 1)
                    """, arguments: [id, status])
            }
        }
        try queue.close()
        let store = try SQLiteJobStore(path: path)
        #expect(try store.job("job_done")?.artifactEncoding == .gzipMembers)
        #expect(try store.job("job_waiting")?.artifactEncoding == nil)
        #expect(try store.job("job_failed")?.artifactEncoding == nil)
    }
}
