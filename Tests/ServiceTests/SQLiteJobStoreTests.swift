import Foundation
import GRDB
import Logging
import Testing
@testable import Service

@Suite struct SQLiteJobStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobstore-\(UUID())")

    func makeStore() throws -> SQLiteJobStore {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try SQLiteJobStore(path: dir.appendingPathComponent("quantd.sqlite").path)
    }

    @Test func persistsAcrossReopenInARealSQLiteFile() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let store = try makeStore()
            try store.insert(JobStoreTests.job("job_a"))
            try store.update("job_a") { $0.status = .running; $0.progress = 0.5 }
        }
        let reopened = try SQLiteJobStore(path: dir.appendingPathComponent("quantd.sqlite").path)
        let job = try #require(try reopened.job("job_a"))
        #expect(job.status == .running)
        #expect(job.progress == 0.5)
        #expect(job.revision == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("quantd.sqlite").path))
    }

    @Test func aVersion8DatabaseGainsLeasesAndKeysWithItsJobsIntact() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("quantd.sqlite").path
        let pool = try DatabasePool(path: path)
        try SQLiteJobStore.migrator.migrate(pool, upTo: "v8: activation quantization")
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO jobs (id, tenant, model_id, status, progress, config, created_at, attempts, expired, revision)
                VALUES ('job_v8', 'default', 'm', 'running', 0.5, '{}', ?, 1, 0, 3)
                """, arguments: [Date()])
        }
        try pool.close()
        let store = try SQLiteJobStore(path: path)
        let job = try #require(try store.job("job_v8"))
        #expect(job.status == .running && job.attempts == 1 && job.revision == 3)
        #expect(job.node == nil && job.leaseExpiresAt == nil && !job.cancelRequested)
        let key = IdempotencyKey(tenant: "default", operation: .createJob, key: "k", request: ["x"])
        #expect(try store.recordIdempotency(key, resourceID: "job_v8") == nil)
    }
}

@Suite struct JobRunnerStartTests {
    /// A job cancelled between being dequeued and starting must stay cancelled.
    @Test func aCancelledJobIsNotStarted() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("runner-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = DataDirectory(root: root)
        try data.prepare()
        let store = try SQLiteJobStore(path: data.database)
        try store.insert(JobStoreTests.job("job_c", status: .cancelled))
        let runner = JobRunner(store: store, node: "local", data: data, catalog: try DeviceCatalogFile.load(""), packages: OpenedPackages(), gzip: ParallelGzip(), executionThreads: 1, metrics: Metrics(), logger: Logger(label: "test"))
        runner.run("job_c", flag: CancellationFlag())
        let job = try #require(try store.job("job_c"))
        #expect(job.status == .cancelled)
        #expect(job.attempts == 0)
    }
}
