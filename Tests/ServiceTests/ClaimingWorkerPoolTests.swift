import Foundation
import Logging
import PostgresTestSupport
import Synchronization
import Testing
@testable import Service

@Suite struct ClaimingWorkerPoolTests {
    @Test func workersRunEveryJobAndStopWhatIsCancelledOrNoLongerHeld() throws {
        let store = try PostgresJobStore(url: try TestDatabase.make(prefix: "workers"), poolSize: 4)
        let ran = Mutex<[String]>([])
        let stopped = Mutex<[String: StopReason]>([:])
        let held: Set<String> = ["job_0_hold", "job_1_lost"]
        let pool = ClaimingWorkerPool(
            store: store, settings: .init(node: "here", workers: 3, leaseSeconds: 1.5, policy: AttemptPolicy(maxAttempts: 3)),
            metrics: Metrics(node: "here"), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        ) { job, flag in
            ran.withLock { $0.append(job.id) }
            guard held.contains(job.id) else { return }
            // Holds its job, as a long compression would, until told to stop (the third worker
            // runs the rest meanwhile).
            let deadline = Date().addingTimeInterval(20)
            while !flag.isStopped && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            stopped.withLock { if $0[job.id] == nil { $0[job.id] = flag.stopReason } }
        }
        pool.start()
        defer { pool.stop(timeout: 5) }
        for id in ["job_0_hold", "job_1_lost"] + (2..<6).map({ "job_\($0)" }) {
            try store.insert(JobStoreTests.job(id))
            try pool.submitted(id)
        }
        #expect(waitUntil(timeout: 20) { ran.withLock { Set($0) }.count == 6 }, "every job ran: \(ran.withLock { $0 })")

        // A cancel reaches the running job through the heartbeat (no listener here).
        try store.update("job_0_hold") { $0.cancelRequested = true }
        // Another node requeued this one: the heartbeat finds the lease gone and lets go.
        try store.update("job_1_lost") { $0.status = .queued; $0.node = nil }
        #expect(waitUntil(timeout: 10) { stopped.withLock { $0.count } == 2 })
        #expect(stopped.withLock { $0 } == ["job_0_hold": .cancelled, "job_1_lost": .leaseLost])
        #expect(pool.runningCount <= 1)
    }
}
