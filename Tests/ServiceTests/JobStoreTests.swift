import Execution
import Foundation
import PostgresTestSupport
import Synchronization
import Testing
@testable import Service

/// The store under test: each test here runs once on a real SQLite file and once on a real
/// PostgreSQL database, and both must keep the same rows under the same rules.
enum StoreUnderTest: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    func make() throws -> any JobStore {
        switch self {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobstore-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return try SQLiteJobStore(path: dir.appendingPathComponent("quantd.sqlite").path)
        case .postgres:
            return try PostgresJobStore(url: try TestDatabase.make(prefix: "store"), poolSize: 4)
        }
    }
}

@Suite struct JobStoreTests {
    static func job(_ id: String, status: JobStatus = .queued, finished: Date? = nil, tenant: String = "default") -> Job {
        Job(id: id, tenant: tenant, modelId: "m", status: status, progress: 0, config: "{}", preset: "w8", createdAt: Date(),
            startedAt: nil, finishedAt: finished, error: nil, artifactBytes: nil, artifactName: nil,
            attempts: 0, expired: false, revision: 0)
    }

    static func model(_ id: String, used: Date, bytes: Int64 = 1) -> StoredModel {
        StoredModel(id: id, format: "safetensors", bytes: bytes, tensorCount: 1, parameterCount: 1, createdAt: used, lastUsedAt: used)
    }

    @Test(arguments: StoreUnderTest.allCases)
    func aJobRoundTripsEveryField(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        var job = Self.job("job_all", status: .succeeded, finished: Date(timeIntervalSince1970: 1_800_000_000.125))
        job.tenant = "team-a"
        job.minimumDeploymentTarget = "iOS18"
        job.onnxFormat = "qdq"
        job.evaluationDatasetId = "ds"
        job.activationConfig = #"{"mode":"w8a8"}"#
        job.calibration = #"{"dataset_id":"ds"}"#
        job.startedAt = Date(timeIntervalSince1970: 1_799_999_999.5)
        job.error = "it's \"quoted\""
        job.artifactBytes = 1 << 40
        job.artifactName = "model-w8.safetensors"
        job.artifactEncoding = .gzip
        job.attempts = 2
        job.node = "node-1"
        job.leaseExpiresAt = Date(timeIntervalSince1970: 1_800_000_030)
        job.cancelRequested = true
        try store.insert(job)
        let read = try #require(try store.job("job_all"))
        // Timestamps keep microseconds on PostgreSQL and milliseconds on SQLite.
        #expect(abs(read.createdAt.timeIntervalSince(job.createdAt)) < 0.001)
        #expect(abs(read.finishedAt!.timeIntervalSince(job.finishedAt!)) < 0.001)
        var same = read
        same.createdAt = job.createdAt
        same.finishedAt = job.finishedAt
        #expect(same == job)
    }

    @Test(arguments: StoreUnderTest.allCases)
    func updateIsAtomicBumpsTheRevisionAndWakesWaiters(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        #expect(try store.update("nope") { $0.progress = 1 } == nil)
        #expect(try store.job("nope") == nil)
        try store.insert(Self.job("job_a"))
        let woke = Atomic(false)
        _ = store.watchers.watch("job_a", seconds: 30) { woke.store(true, ordering: .relaxed) }
        let running = try #require(try store.update("job_a") { $0.status = .running; $0.progress = 0.5 })
        #expect(running.revision == 1 && running.progress == 0.5)
        let wokeWhileRunning = woke.load(ordering: .relaxed)
        #expect(!wokeWhileRunning)
        try store.update("job_a") { $0.status = .succeeded }
        let wokeWhenFinished = woke.load(ordering: .relaxed)
        #expect(wokeWhenFinished)
        #expect(try store.job("job_a")?.revision == 2)
    }

    @Test(arguments: StoreUnderTest.allCases)
    func listsNewestFirstWithCursorAndStatusFilter(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        for (i, s) in [JobStatus.queued, .succeeded, .queued, .failed, .queued].enumerated() {
            try store.insert(Self.job("job_\(i)", status: s))
        }
        try store.insert(Self.job("job_9", tenant: "other"))
        let page1 = try store.list(tenant: "default", status: nil, after: nil, limit: 2)
        #expect(page1.map(\.id) == ["job_4", "job_3"])
        let page2 = try store.list(tenant: "default", status: nil, after: page1.last!.id, limit: 2)
        #expect(page2.map(\.id) == ["job_2", "job_1"])
        #expect(try store.list(tenant: "default", status: .queued, after: nil, limit: 10).map(\.id) == ["job_4", "job_2", "job_0"])
        #expect(try store.countsByStatus() == [.queued: 4, .succeeded: 1, .failed: 1])
        #expect(try store.jobs(withStatus: [.queued, .running]).map(\.id) == ["job_0", "job_2", "job_4", "job_9"])
        #expect(try store.queuedJobCount(tenant: "default") == 3)
        #expect(try store.queuedJobCount(tenant: nil) == 4)
    }

    @Test(arguments: StoreUnderTest.allCases)
    func sameModelTwiceKeepsOneRowAndRefreshesUse(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        let first = Date(timeIntervalSince1970: 1000), later = Date(timeIntervalSince1970: 2000)
        let m = Self.model("abc", used: first, bytes: 10)
        try store.upsertModel(m, tenant: "default")
        var again = m
        again.lastUsedAt = later
        let stored = try store.upsertModel(again, tenant: "team-b")
        #expect(stored.createdAt == first)
        #expect(stored.lastUsedAt == later)
        #expect(try store.model("abc", ownedBy: "team-b") != nil)
        #expect(try store.model("abc", ownedBy: "team-c") == nil)
        #expect(try store.storedBytes(tenant: "team-b") == 10)
        #expect(try store.touchModel("abc", at: Date(timeIntervalSince1970: 3000)))
        #expect(try store.model("abc")?.lastUsedAt == Date(timeIntervalSince1970: 3000))
        #expect(try !store.touchModel("missing", at: Date()))
    }

    @Test(arguments: StoreUnderTest.allCases)
    func retentionSparesActiveWorkAndModelsUsedSinceListed(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        let old = Date(timeIntervalSince1970: 1000), cutoff = Date(timeIntervalSince1970: 5000)
        for id in ["busy", "idle", "touched"] { try store.upsertModel(Self.model(id, used: old), tenant: "default") }
        var running = Self.job("job_r", status: .running)
        running.modelId = "busy"
        try store.insert(running)
        try store.insert(Self.job("job_done", status: .succeeded, finished: old))
        try store.insert(Self.job("job_new", status: .succeeded, finished: Date()))
        #expect(try store.unusedModels(before: cutoff).map(\.id).sorted() == ["idle", "touched"])
        #expect(try store.finishedJobs(before: cutoff).map(\.id) == ["job_done"])
        // Listed as unused, then used (by another node's upload or job) before the delete.
        _ = try store.touchModel("touched", at: Date())
        #expect(try !store.deleteModel("touched", unusedSince: cutoff))
        #expect(try !store.deleteModel("busy", unusedSince: cutoff))
        #expect(try store.deleteModel("idle", unusedSince: cutoff))
        #expect(try store.model("idle") == nil && store.model("idle", ownedBy: "default") == nil)
        #expect(try store.model("touched") != nil)
    }

    @Test(arguments: StoreUnderTest.allCases)
    func datasetsBelongToTheirOwnersAndGoWithTheLast(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        let signature = DatasetSignature(arrays: [.init(name: "x", elementType: .float32, shape: [4, 3])])
        let old = Date(timeIntervalSince1970: 1000)
        let d = StoredDataset(id: "ds", format: "npz", bytes: 48, signature: signature, createdAt: old, lastUsedAt: old)
        let a = try store.upsertDataset(d, tenant: "a")
        let b = try store.upsertDataset(d, tenant: "b")
        #expect(a.signature == signature && a.sampleCount == 4)
        #expect(b.sequence > a.sequence)
        #expect(try store.datasets(ownedBy: "a", before: nil, limit: 10).map(\.id) == ["ds"])
        #expect(try store.dataset("ds", ownedBy: "c") == nil)
        #expect(try store.storedBytes(tenant: "b") == 48)
        #expect(try store.removeDatasetOwner("ds", tenant: "a") == false)
        #expect(try store.removeDatasetOwner("ds", tenant: "a") == nil)
        #expect(try store.touchDataset("ds", tenant: "b", at: Date()))
        #expect(try store.expireDatasets(unusedSince: Date(timeIntervalSince1970: 5000)) == [])
        #expect(try store.expireDatasets(unusedSince: Date().addingTimeInterval(60)) == ["ds"])
        #expect(try store.dataset("ds", ownedBy: "b") == nil)
    }

    @Test(arguments: StoreUnderTest.allCases)
    func anIdempotencyKeyMakesOneJob(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        let key = IdempotencyKey(tenant: "default", operation: .createJob, key: "k1", request: ["json", "", "application/json"], body: Array("{}".utf8))
        #expect(try store.insert(Self.job("job_1"), idempotency: key) == nil)
        let earlier = try #require(try store.insert(Self.job("job_2"), idempotency: key))
        #expect(earlier.resourceID == "job_1")
        #expect(try earlier.replay(of: key) == "job_1")
        #expect(try store.job("job_2") == nil)
        // Another tenant's key of the same name is its own.
        var other = key
        other.tenant = "team-b"
        #expect(try store.insert(Self.job("job_3", tenant: "team-b"), idempotency: other) == nil)
        // The same key with a different request is refused, naming what the key made.
        let changed = IdempotencyKey(tenant: "default", operation: .createJob, key: "k1", request: ["json", "", "application/json"], body: Array("{ }".utf8))
        let problem = try #require(throws: Problem.self) { try earlier.replay(of: changed) }
        #expect(problem.status == 422 && problem.extensions["field"] == "Idempotency-Key")
        // Models keep keys of their own.
        let upload = IdempotencyKey(tenant: "default", operation: .uploadModel, key: "k1", request: ["sha"])
        #expect(try store.recordIdempotency(upload, resourceID: "sha") == nil)
        #expect(try store.recordIdempotency(upload, resourceID: "sha")?.resourceID == "sha")
        try store.expireIdempotencyKeys(before: Date().addingTimeInterval(60))
        #expect(try store.idempotencyRecord(key) == nil)
    }

    @Test(arguments: StoreUnderTest.allCases)
    func concurrentRequestsWithOneKeyMakeOneJob(_ kind: StoreUnderTest) throws {
        let store = try kind.make()
        let key = IdempotencyKey(tenant: "default", operation: .createJob, key: "race", request: ["same"])
        let inserted = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            if (try? store.insert(Self.job("job_\(i)"), idempotency: key)) == .some(nil) { inserted.withLock { $0.append("job_\(i)") } }
        }
        let winners = inserted.withLock { $0 }
        #expect(winners.count == 1)
        #expect(try store.jobs(withStatus: [.queued]).map(\.id) == winners)
        #expect(try store.idempotencyRecord(key)?.resourceID == winners.first)
    }
}
