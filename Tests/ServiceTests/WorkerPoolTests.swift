import Foundation
import Synchronization
import Testing
@testable import Service

@Suite struct WorkerPoolTests {
    @Test func runsEveryJobOnceInOrderWithOneWorker() {
        let seen = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        let pool = WorkerPool(workers: 1, capacity: 10) { id, _ in
            seen.withLock { $0.append(id) }
            done.signal()
        }
        pool.start()
        for i in 0..<5 { try? pool.enqueue("j\(i)") }
        for _ in 0..<5 { #expect(done.wait(timeout: .now() + 10) == .success) }
        #expect(seen.withLock { $0 } == ["j0", "j1", "j2", "j3", "j4"])
        pool.stop(timeout: 5)
    }

    @Test func refusesBeyondCapacityUnlessForced() throws {
        let pool = WorkerPool(workers: 1, capacity: 2) { _, _ in }
        // Not started: nothing is taken off the queue.
        try pool.enqueue("a")
        try pool.enqueue("b")
        #expect(throws: WorkerPool.EnqueueError.full) { try pool.enqueue("c") }
        try pool.enqueue("recovered", force: true)
        #expect(pool.queueDepth == 3)
    }

    @Test func cancelRemovesQueuedAndFlagsRunning() {
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let reason = Mutex<StopReason?>(nil)
        let pool = WorkerPool(workers: 1, capacity: 10) { id, flag in
            guard id == "long" else { return }
            started.signal()
            while !flag.isStopped { usleep(1000) }
            reason.withLock { $0 = flag.stopReason }
            finished.signal()
        }
        pool.start()
        try? pool.enqueue("long")
        try? pool.enqueue("queued")
        #expect(started.wait(timeout: .now() + 10) == .success)
        #expect(pool.cancel("queued"))
        #expect(pool.queueDepth == 0)
        #expect(pool.cancel("long"))
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(reason.withLock { $0 } == .cancelled)
        #expect(!pool.cancel("unknown"))
        pool.stop(timeout: 5)
    }

    @Test func stopAsksRunningJobsToRequeue() {
        let started = DispatchSemaphore(value: 0)
        let reason = Mutex<StopReason?>(nil)
        let pool = WorkerPool(workers: 1, capacity: 10) { _, flag in
            started.signal()
            while !flag.isStopped { usleep(1000) }
            reason.withLock { $0 = flag.stopReason }
        }
        pool.start()
        try? pool.enqueue("j")
        #expect(started.wait(timeout: .now() + 10) == .success)
        pool.stop(timeout: 10)
        #expect(reason.withLock { $0 } == .shutdown)
    }

    /// Once a worker's body has returned, the worker no longer owns the pool. Foundation keeps
    /// a finished Thread (and its closure) until the thread's exit destructors, which run after
    /// libdispatch has freed its state for the thread: too late for the pool's teardown, which
    /// runs libdispatch (GRDB's queues), and the cause of the suite's heap corruption. Holding
    /// the worker's Thread here stands for those destructors not having run yet.
    @Test func aFinishedWorkerDoesNotOwnThePool() throws {
        let worker = Mutex<Thread?>(nil)
        let ran = DispatchSemaphore(value: 0)
        var pool: WorkerPool? = WorkerPool(workers: 1, capacity: 1) { _, _ in
            worker.withLock { $0 = Thread.current }
            ran.signal()
        }
        weak let released = pool
        pool?.start()
        try pool?.enqueue("j")
        #expect(ran.wait(timeout: .now() + 10) == .success)
        pool?.stop(timeout: 10)
        pool = nil
        let thread = try #require(worker.withLock { $0 })
        let deadline = Date() + 10
        while !thread.isFinished && Date() < deadline { usleep(1000) }
        #expect(thread.isFinished)
        #expect(released == nil)
    }
}
