import Foundation
import Postgres
import PostgresTestSupport
import Synchronization
import Testing
@testable import Service

/// What only the shared store does: claiming, leases, requeueing, notifications, migrations
/// under concurrent starts, one sweeper at a time.
@Suite struct PostgresJobStoreTests {
    @Test func nodesStartingTogetherApplyEachMigrationOnce() throws {
        let url = try TestDatabase.make(prefix: "migrate")
        let errors = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { _ = try PostgresJobStore(url: url, poolSize: 1) } catch { errors.withLock { $0.append("\(error)") } }
        }
        #expect(errors.withLock { $0 } == [])
        let versions = try PostgresConnection(url: url).execute("SELECT version FROM schema_migrations ORDER BY version").rows
        #expect(versions == PostgresSchema.migrations.map { [String($0.version)] })
    }

    @Test func everyQueuedJobIsClaimedExactlyOnceUnderContention() throws {
        let url = try TestDatabase.make(prefix: "claim")
        let store = try PostgresJobStore(url: url, poolSize: 8)
        for i in 0..<40 { try store.insert(JobStoreTests.job(String(format: "job_%03d", i))) }
        // Four nodes, two workers each, all claiming at once.
        let nodes = try (0..<4).map { _ in try PostgresJobStore(url: url, poolSize: 2) }
        let claimed = Mutex<[String: String]>([:])
        let duplicates = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let node = "node\(worker % 4)"
            while let job = try? nodes[worker % 4].claimNext(node: node, leaseSeconds: 30) {
                claimed.withLock { if $0.updateValue(node, forKey: job.id) != nil { duplicates.add(1, ordering: .relaxed) } }
            }
        }
        #expect(duplicates.load(ordering: .relaxed) == 0)
        #expect(claimed.withLock { $0.count } == 40)
        for job in try store.jobs(withStatus: [.running]) {
            #expect(job.attempts == 1)
            #expect(job.node == claimed.withLock { $0[job.id] })
            #expect(job.leaseExpiresAt! > Date())
        }
        #expect(try store.claimNext(node: "late", leaseSeconds: 30) == nil)
    }

    @Test func claimsTakeTheOldestJobFirst() throws {
        let store = try PostgresJobStore(url: try TestDatabase.make(prefix: "fifo"), poolSize: 2)
        for id in ["job_b", "job_a", "job_c"] { try store.insert(JobStoreTests.job(id)) }
        #expect(try store.claimNext(node: "n", leaseSeconds: 30)?.id == "job_a")
        #expect(try store.claimNext(node: "n", leaseSeconds: 30)?.id == "job_b")
    }

    @Test func anExpiredLeaseIsRequeuedAndAnExhaustedJobFails() throws {
        let store = try PostgresJobStore(url: try TestDatabase.make(prefix: "lease"), poolSize: 2)
        let policy = AttemptPolicy(maxAttempts: 2)
        try store.insert(JobStoreTests.job("job_a"))
        let first = try #require(try store.claimNext(node: "dead", leaseSeconds: 1))
        #expect(first.attempts == 1)
        // The lease is still good: nothing to requeue, and renewing keeps it.
        #expect(try store.requeueAbandoned(policy: policy) == .init())
        #expect(try store.renewLeases(node: "dead", ids: ["job_a"], leaseSeconds: 1) == ["job_a": .init(attempt: 1, cancelRequested: false)])
        #expect(try store.renewLeases(node: "other", ids: ["job_a"], leaseSeconds: 1) == [:])
        Thread.sleep(forTimeInterval: 1.2)
        // A database that (re)started within the last lease gives nodes time to renew first.
        #expect(try store.requeueAbandoned(policy: policy, leaseSeconds: 100_000_000) == .init())
        #expect(try store.requeueAbandoned(policy: policy) == .init(queued: ["job_a"]))
        let requeued = try #require(try store.job("job_a"))
        #expect(requeued.status == .queued && requeued.startedAt == nil && requeued.leaseExpiresAt == nil)
        // The stalled node's renewal finds it no longer holds the job.
        #expect(try store.renewLeases(node: "dead", ids: ["job_a"], leaseSeconds: 1) == [:])
        let second = try #require(try store.claimNext(node: "also-dead", leaseSeconds: 1))
        #expect(second.attempts == 2 && second.node == "also-dead")
        Thread.sleep(forTimeInterval: 1.2)
        #expect(try store.requeueAbandoned(policy: policy) == .init(finished: ["job_a"]))
        let failed = try #require(try store.job("job_a"))
        #expect(failed.status == .failed)
        #expect(failed.error == policy.exhaustedMessage)
        #expect(failed.finishedAt != nil)
    }

    @Test func aRestartingNodeRequeuesItsOwnJobsAtOnceAndLeavesOthersAlone() throws {
        let store = try PostgresJobStore(url: try TestDatabase.make(prefix: "restart"), poolSize: 2)
        for id in ["job_a", "job_b", "job_c"] { try store.insert(JobStoreTests.job(id)) }
        _ = try store.claimNext(node: "me", leaseSeconds: 60)
        _ = try store.claimNext(node: "you", leaseSeconds: 60)
        _ = try store.claimNext(node: "me", leaseSeconds: 60)
        try store.update("job_c") { $0.cancelRequested = true }
        let outcome = try store.requeueAbandoned(node: "me", policy: AttemptPolicy(maxAttempts: 3))
        #expect(outcome == .init(queued: ["job_a"], finished: ["job_c"]))
        #expect(try store.job("job_c")?.status == .cancelled)
        #expect(try store.job("job_b")?.status == .running)
    }

    @Test func anotherNodesNotificationsWakeWaitersWorkersAndCancels() throws {
        let url = try TestDatabase.make(prefix: "notify")
        let here = try PostgresJobStore(url: url, poolSize: 2), there = try PostgresJobStore(url: url, poolSize: 2)
        let queued = Atomic(0)
        let cancelled = Mutex<[String]>([])
        here.startListening(node: "here", queued: { queued.add(1, ordering: .relaxed) }, cancel: { id in cancelled.withLock { $0.append(id) } })
        defer { here.stopListening() }
        #expect(waitUntil(timeout: 10) { here.isListening })
        // The listening node holds its name: another process of the same name may not start.
        #expect(throws: PostgresJobStore.NodeNameTaken.self) { try there.checkNodeNameIsFree("here") }
        try there.checkNodeNameIsFree("there")
        let finished = DispatchSemaphore(value: 0)
        _ = here.watchers.watch("job_a", seconds: 30) { finished.signal() }
        try there.insert(JobStoreTests.job("job_a"))
        #expect(waitUntil(timeout: 10) { queued.load(ordering: .relaxed) >= 1 })
        _ = try there.claimNext(node: "there", leaseSeconds: 30)
        try there.update("job_a") { $0.cancelRequested = true }
        #expect(waitUntil(timeout: 10) { cancelled.withLock { $0 } == ["job_a"] })
        try there.update("job_a") { $0.status = .cancelled }
        #expect(finished.wait(timeout: .now() + 10) == .success)
    }

    @Test func oneNodeAtATimeHoldsTheRetentionLock() throws {
        let url = try TestDatabase.make(prefix: "lock")
        // A pool of one: the sweep under the lock still gets a connection.
        let a = try PostgresJobStore(url: url, poolSize: 1), b = try PostgresJobStore(url: url, poolSize: 1)
        var ranB = false
        let ranA = try a.ifHoldingLock(PostgresSchema.retentionLock) {
            _ = try a.countsByStatus()
            ranB = try b.ifHoldingLock(PostgresSchema.retentionLock) {}
        }
        #expect(ranA && !ranB)
        // Released when the holder is done.
        #expect(try b.ifHoldingLock(PostgresSchema.retentionLock) {})
    }
}
