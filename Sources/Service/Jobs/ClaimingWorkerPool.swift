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
    /// A job running here, by the attempt it was claimed with: should a stalled run lose its
    /// lease and this node claim the job again, both runs are told apart.
    private struct Run: Hashable {
        var id: String
        var attempt: Int
    }

    private let running = Mutex<[Run: CancellationFlag]>([:])
    private let idleWorkers = Atomic(0)
    private let stopping = Atomic(false)
    private let wakeup = DispatchSemaphore(value: 0)
    private let done = DispatchGroup()
    // Made and armed by start(), cancelled by stop(), both on the owning thread (a timer
    // source released without ever being resumed would crash, so none exists before start).
    nonisolated(unsafe) private var heartbeat: DispatchSourceTimer?

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
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "quantd.heartbeat"))
        timer.schedule(deadline: .now() + settings.leaseSeconds / 3, repeating: settings.leaseSeconds / 3)
        timer.setEventHandler { [weak self] in self?.beat() }
        timer.resume()
        heartbeat = timer
    }

    func submitted(_ id: String) throws(WorkerPool.EnqueueError) { wake() }

    /// Some job was queued (here or on another node): one idle worker looks. With none idle
    /// there is nothing to wake (a busy worker claims again when it is done), so a burst of
    /// notifications does not bank wake-ups for empty claims later.
    func wake() {
        if idleWorkers.load(ordering: .relaxed) > 0 { wakeup.signal() }
    }

    func cancel(_ id: String) -> Bool {
        let flags = running.withLock { $0.filter { $0.key.id == id }.map(\.value) }
        flags.forEach { $0.stop(.cancelled) }
        return !flags.isEmpty
    }

    var queueDepth: Int { (try? store.queuedJobCount(tenant: nil)) ?? 0 }
    var runningCount: Int { running.withLock { $0.count } }

    func stop(timeout: Double) {
        stopping.store(true, ordering: .relaxed)
        running.withLock { $0.values.forEach { $0.stop(.shutdown) } }
        for _ in 0..<max(1, settings.workers) { wakeup.signal() }
        _ = done.wait(timeout: .now() + timeout)
        // Leases are renewed until the workers have handed their jobs back.
        heartbeat?.cancel()
        heartbeat = nil
    }

    private func runWorker() {
        var reportedOutage = false
        // Counted idle from before each claim, not from after an empty one: a job queued in
        // between still signals this worker, which then claims again at once.
        idleWorkers.add(1, ordering: .relaxed)
        defer { idleWorkers.subtract(1, ordering: .relaxed) }
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
            idleWorkers.subtract(1, ordering: .relaxed)
            metrics.recordClaim(waited: max(0, (job.startedAt ?? Date()).timeIntervalSince(job.createdAt)))
            let flag = CancellationFlag()
            let run = Run(id: job.id, attempt: job.attempts)
            running.withLock { $0[run] = flag }
            // Claimed just as the node began stopping: straight back to the queue.
            if stopping.load(ordering: .relaxed) { flag.stop(.shutdown) }
            work(job, flag)
            running.withLock { _ = $0.removeValue(forKey: run) }
            idleWorkers.add(1, ordering: .relaxed)
        }
    }

    /// Renews this node's leases, stops what it no longer holds or a user cancelled, and
    /// requeues other nodes' abandoned jobs.
    private func beat() {
        let flags = running.withLock { $0 }
        do {
            let held = try store.renewLeases(node: settings.node, ids: Array(Set(flags.keys.map(\.id))), leaseSeconds: settings.leaseSeconds)
            metrics.recordLeaseRenewals(held.count)
            for (run, flag) in flags {
                guard let lease = held[run.id], lease.attempt == run.attempt else {
                    // Not a loss if the job just finished here after the snapshot.
                    guard running.withLock({ $0[run] }) === flag else { continue }
                    metrics.recordLeaseLost()
                    flag.stop(.leaseLost)
                    continue
                }
                if lease.cancelRequested { flag.stop(.cancelled) }
            }
            let requeued = try store.requeueAbandoned(policy: settings.policy, leaseSeconds: settings.leaseSeconds)
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
