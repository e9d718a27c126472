import Foundation
import Synchronization

/// Why a running job was asked to stop.
public enum StopReason: Sendable, Equatable {
    /// The user cancelled it: it ends as `cancelled`.
    case cancelled
    /// The server is shutting down: it goes back to `queued` and runs after restart.
    case shutdown
    /// Its lease ran out and another node requeued it: this node lets go without writing.
    case leaseLost
}

/// The workers of one node, fed either from its own queue (`WorkerPool`, the embedded store)
/// or by claiming from a database all nodes share (`ClaimingWorkerPool`).
protocol JobWorkers: Sendable {
    func start()
    /// A job was stored as queued: the local pool queues it, a cluster's workers wake to claim it.
    func submitted(_ id: String) throws(WorkerPool.EnqueueError)
    /// Removes a queued job or stops a running one here; false if this node does not have it.
    func cancel(_ id: String) -> Bool
    /// Jobs waiting for a worker (in a cluster: on every node).
    var queueDepth: Int { get }
    /// Jobs this node runs now.
    var runningCount: Int { get }
    /// Stops taking jobs, asks running ones to stop (they go back to queued), and waits up to
    /// `timeout` seconds for the workers to return.
    func stop(timeout: Double)
}

/// Polled by a running job between units of work.
public final class CancellationFlag: Sendable {
    private let reason = Mutex<StopReason?>(nil)

    public init() {}

    public var stopReason: StopReason? { reason.withLock { $0 } }
    public var isStopped: Bool { stopReason != nil }

    func stop(_ r: StopReason) {
        reason.withLock { if $0 == nil { $0 = r } }
    }
}

/// A bounded FIFO of job ids served by a fixed set of worker threads: one node on its own store.
public final class WorkerPool: JobWorkers, Sendable {
    public typealias Work = @Sendable (_ jobID: String, _ flag: CancellationFlag) -> Void

    private struct State {
        var queue: [String] = []
        var head = 0
        var running: [String: CancellationFlag] = [:]
        var stopping = false
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let workers: Int
    private let capacity: Int
    private let work: Work
    private let done = DispatchGroup()

    public init(workers: Int, capacity: Int, work: @escaping Work) {
        self.workers = max(1, workers)
        self.capacity = capacity
        self.work = work
    }

    public func start() {
        for i in 0..<workers {
            done.enter()
            // The thread owns the pool only while its body runs. Foundation releases a Thread,
            // and with it this closure, from a thread-exit destructor that runs after
            // libdispatch has freed the thread's continuation cache but still points to it; were
            // the closure the pool's last owner, the pool's teardown (the job store's GRDB
            // queues) would run libdispatch there, which writes into and frees that freed
            // memory again: the heap corruption behind the test suite's malloc_consolidate()
            // and tcache_thread_shutdown() aborts.
            let thread = Thread { [weak self] in
                guard let self else { return }
                runWorker()
                done.leave()
            }
            thread.name = "worker-\(i)"
            thread.start()
        }
    }

    public enum EnqueueError: Error { case full }

    /// Adds a job; `force` skips the capacity check (jobs recovered at start-up).
    public func enqueue(_ id: String, force: Bool = false) throws(EnqueueError) {
        let accepted = state.withLock { s -> Bool in
            guard force || s.queue.count - s.head < capacity else { return false }
            s.queue.append(id)
            return true
        }
        guard accepted else { throw .full }
        available.signal()
    }

    func submitted(_ id: String) throws(EnqueueError) { try enqueue(id) }

    public func cancel(_ id: String) -> Bool {
        state.withLock { s in
            if let flag = s.running[id] {
                flag.stop(.cancelled)
                return true
            }
            if let i = s.queue[s.head...].firstIndex(of: id) {
                s.queue.remove(at: i)
                return true
            }
            return false
        }
    }

    public var queueDepth: Int { state.withLock { $0.queue.count - $0.head } }
    public var runningCount: Int { state.withLock { $0.running.count } }

    public func stop(timeout: Double) {
        state.withLock { s in
            s.stopping = true
            for flag in s.running.values { flag.stop(.shutdown) }
        }
        for _ in 0..<workers { available.signal() }
        _ = done.wait(timeout: .now() + timeout)
    }

    private func runWorker() {
        while true {
            available.wait()
            let next = state.withLock { s -> (String, CancellationFlag)? in
                guard !s.stopping, s.head < s.queue.count else { return nil }
                let id = s.queue[s.head]
                s.head += 1
                if s.head > 1024 && s.head * 2 > s.queue.count {
                    s.queue.removeFirst(s.head)
                    s.head = 0
                }
                let flag = CancellationFlag()
                s.running[id] = flag
                return (id, flag)
            }
            guard let (id, flag) = next else {
                if state.withLock({ $0.stopping }) { return }
                continue
            }
            work(id, flag)
            state.withLock { _ = $0.running.removeValue(forKey: id) }
        }
    }
}
