import Foundation
import Logging
import Testing
@testable import Service

@Suite struct JobStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobstore-\(UUID())")

    func makeStore() throws -> JobStore {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try JobStore(path: dir.appendingPathComponent("quantd.sqlite").path)
    }

    static func job(_ id: String, status: JobStatus = .queued, finished: Date? = nil) -> Job {
        Job(id: id, modelId: "m", status: status, progress: 0, config: "{}", preset: "w8", createdAt: Date(),
            startedAt: nil, finishedAt: finished, error: nil, artifactBytes: nil, artifactName: nil,
            attempts: 0, expired: false, revision: 0)
    }

    @Test func persistsAcrossReopenInARealSQLiteFile() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let store = try makeStore()
            try store.insert(Self.job("job_a"))
            try store.update("job_a") { $0.status = .running; $0.progress = 0.5 }
        }
        let reopened = try JobStore(path: dir.appendingPathComponent("quantd.sqlite").path)
        let job = try #require(try reopened.job("job_a"))
        #expect(job.status == .running)
        #expect(job.progress == 0.5)
        #expect(job.revision == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("quantd.sqlite").path))
    }

    @Test func updateOfUnknownJobReturnsNil() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try makeStore()
        #expect(try store.update("nope") { $0.progress = 1 } == nil)
        #expect(try store.job("nope") == nil)
    }

    @Test func listsNewestFirstWithCursorAndStatusFilter() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try makeStore()
        for (i, s) in [JobStatus.queued, .succeeded, .queued, .failed, .queued].enumerated() {
            try store.insert(Self.job("job_\(i)", status: s))
        }
        let page1 = try store.list(tenant: "default", status: nil, after: nil, limit: 2)
        #expect(page1.map(\.id) == ["job_4", "job_3"])
        let page2 = try store.list(tenant: "default", status: nil, after: page1.last!.id, limit: 2)
        #expect(page2.map(\.id) == ["job_2", "job_1"])
        #expect(try store.list(tenant: "default", status: .queued, after: nil, limit: 10).map(\.id) == ["job_4", "job_2", "job_0"])
        #expect(try store.countsByStatus() == [.queued: 3, .succeeded: 1, .failed: 1])
        #expect(try store.jobs(withStatus: [.queued, .running]).map(\.id) == ["job_0", "job_2", "job_4"])
    }

    @Test func sameModelTwiceKeepsOneRowAndRefreshesUse() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try makeStore()
        let first = Date(timeIntervalSince1970: 1000), later = Date(timeIntervalSince1970: 2000)
        let m = StoredModel(id: "abc", format: "safetensors", bytes: 10, tensorCount: 1, parameterCount: 5, createdAt: first, lastUsedAt: first)
        try store.upsertModel(m, tenant: "default")
        var again = m
        again.lastUsedAt = later
        let stored = try store.upsertModel(again, tenant: "default")
        #expect(stored.createdAt == first)
        #expect(stored.lastUsedAt == later)
    }

    @Test func retentionQueriesSpareActiveWork() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try makeStore()
        let old = Date(timeIntervalSince1970: 1000), cutoff = Date(timeIntervalSince1970: 5000)
        for id in ["busy", "idle"] {
            try store.upsertModel(StoredModel(id: id, format: "safetensors", bytes: 1, tensorCount: 1, parameterCount: 1, createdAt: old, lastUsedAt: old), tenant: "default")
        }
        var running = Self.job("job_r", status: .running)
        running.modelId = "busy"
        try store.insert(running)
        try store.insert(Self.job("job_done", status: .succeeded, finished: old))
        try store.insert(Self.job("job_new", status: .succeeded, finished: Date()))
        #expect(try store.unusedModels(before: cutoff).map(\.id) == ["idle"])
        #expect(try store.finishedJobs(before: cutoff).map(\.id) == ["job_done"])
    }
}

@Suite struct JobRunnerStartTests {
    /// A job cancelled between being dequeued and starting must stay cancelled.
    @Test func aCancelledJobIsNotStarted() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("runner-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = DataDirectory(root: root)
        try data.prepare()
        let store = try JobStore(path: data.database)
        try store.insert(JobStoreTests.job("job_c", status: .cancelled))
        let runner = JobRunner(store: store, data: data, catalog: try DeviceCatalogFile.load(""), packages: OpenedPackages(), gzip: ParallelGzip(), executionThreads: 1, metrics: Metrics(), logger: Logger(label: "test"))
        runner.run("job_c", flag: CancellationFlag())
        let job = try #require(try store.job("job_c"))
        #expect(job.status == .cancelled)
        #expect(job.attempts == 0)
    }
}
