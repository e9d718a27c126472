import Foundation
import Logging
import Synchronization

/// The workers of one node of a cluster. Each idle worker claims the oldest queued job from the
/// shared database (`SKIP LOCKED`: two nodes never take the same one), and a heartbeat renews
/// the leases of the jobs running here. The same heartbeat requeues any node's job whose lease
/// ran out, so the jobs of a node that died finish elsewhere.
final class ClaimingWorkerPool: JobWorkers, Sendable {
    typealias Work = @Sendable (_ job: Job, _ flag: CancellationFlag) -> Void

    struct Settings: Sendable {
        var node: String
        var workers: Int
        var leaseSeconds: Double
        var policy: AttemptPolicy
        /// How long an idle worker sleeps before looking again when no NOTIFY woke it (the
        /// listener may be reconnecting).
        var idleRecheckSeconds = 2.0
    }

    private let store: PostgresJobStore
    private let settings: Settings
    private let work: Work
    private let metrics: Metrics
    private let logger: Logger
    private let running = Mutex<[String: CancellationFlag]>([:])
    private let stopping = Atomic(false)
    private let wakeup = DispatchSemaphore(value: 0)
    private let done = DispatchGroup()
    // Armed by start() and cancelled by stop(), both on the owning thread.
    nonisolated(unsafe) private let heartbeat = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "quantd.heartbeat"))

    init(store: PostgresJobStore, settings: Settings, metrics: Metrics, logger: Logger, work: @escaping Work) {
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.work = work
    }

    func start() {
        for i in 0..<max(1, settings.workers) {
            done.enter()
            // As in WorkerPool: the thread must not be the pool's last owner.
            let thread = Thread { [weak self] in
                self?.runWorker()
                self?.done.leave()
            }
            thread.name = "worker-\(i)"
            thread.start()
        }
        heartbeat.schedule(deadline: .now() + settings.leaseSeconds / 3, repeating: settings.leaseSeconds / 3)
        heartbeat.setEventHandler { [weak self] in self?.beat() }
        heartbeat.resume()
    }

    func submitted(_ id: String) throws(WorkerPool.EnqueueError) { wake() }

    /// Some job was queued (here or on another node): one idle worker looks.
    func wake() { wakeup.signal() }

    func cancel(_ id: String) -> Bool {
        guard let flag = running.withLock({ $0[id] }) else { return false }
        flag.stop(.cancelled)
        return true
    }

    var queueDepth: Int { (try? store.queuedJobCount(tenant: nil)) ?? 0 }
    var runningCount: Int { running.withLock { $0.count } }

    func stop(timeout: Double) {
        stopping.store(true, ordering: .relaxed)
        heartbeat.cancel()
        running.withLock { $0.values.forEach { $0.stop(.shutdown) } }
        for _ in 0..<max(1, settings.workers) { wakeup.signal() }
        _ = done.wait(timeout: .now() + timeout)
    }

    private func runWorker() {
        var reportedOutage = false
        while !stopping.load(ordering: .relaxed) {
            let job: Job?
            do {
                job = try store.claimNext(node: settings.node, leaseSeconds: settings.leaseSeconds)
                reportedOutage = false
            } catch {
                if !reportedOutage { logger.warning("cannot claim jobs", metadata: ["error": "\(error)"]) }
                reportedOutage = true
                _ = wakeup.wait(timeout: .now() + 1)
                continue
            }
            guard let job else {
                _ = wakeup.wait(timeout: .now() + settings.idleRecheckSeconds)
                continue
            }
            metrics.recordClaim(waited: max(0, (job.startedAt ?? Date()).timeIntervalSince(job.createdAt)))
            let flag = CancellationFlag()
            running.withLock { $0[job.id] = flag }
            // Claimed just as the node began stopping: straight back to the queue.
            if stopping.load(ordering: .relaxed) { flag.stop(.shutdown) }
            work(job, flag)
            running.withLock { _ = $0.removeValue(forKey: job.id) }
        }
    }

    /// Renews this node's leases, stops what it no longer holds or a user cancelled, and
    /// requeues other nodes' abandoned jobs.
    private func beat() {
        let flags = running.withLock { $0 }
        do {
            let held = try store.renewLeases(node: settings.node, ids: Array(flags.keys), leaseSeconds: settings.leaseSeconds)
            metrics.recordLeaseRenewals(held.count)
            for (id, flag) in flags {
                switch held[id] {
                case nil:
                    // Not a loss if the job just finished here after the snapshot.
                    guard running.withLock({ $0[id] }) === flag else { continue }
                    metrics.recordLeaseLost()
                    flag.stop(.leaseLost)
                case true?: flag.stop(.cancelled)
                case false?: break
                }
            }
            let requeued = try store.requeueAbandoned(policy: settings.policy)
            if !requeued.queued.isEmpty || !requeued.finished.isEmpty {
                metrics.recordRequeued(requeued.queued.count, exhausted: requeued.finished.count)
                logger.warning("requeued jobs whose node stopped renewing their lease", metadata: [
                    "requeued": "\(requeued.queued)", "ended": "\(requeued.finished)"])
            }
        } catch {
            logger.warning("lease heartbeat failed", metadata: ["error": "\(error)"])
        }
    }
}
