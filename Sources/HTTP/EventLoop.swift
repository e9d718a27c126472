import CLinuxIO
import Foundation
import Glibc
import Synchronization

/// Something registered with an event loop for readiness of one file descriptor.
protocol EventLoopSource: AnyObject {
    func ready(readable: Bool, writable: Bool, hangup: Bool)
    /// Periodic check of deadlines, at most every `EventLoop.tickInterval`.
    func tick(now: Double)
}

/// One thread running epoll. Sources registered on it are only ever touched on that thread;
/// other threads hand it work through `execute`, which wakes it with an eventfd.
final class EventLoop: @unchecked Sendable {
    // @unchecked: `sources` and `thread`-side state are confined to the loop thread; the
    // cross-thread inbox is guarded by a Mutex.
    static let tickInterval = 0.25

    private let epfd: Int32
    private let wakeFd: Int32
    private var sources: [Int32: EventLoopSource] = [:]
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    /// The loop thread's id (0 until it runs), read from any thread by `inEventLoop`.
    private let threadID = Atomic<UInt>(0)
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private var lastTick = 0.0

    init() {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epfd >= 0 && wakeFd >= 0, "epoll/eventfd unavailable: \(errno)")
        clinuxio_epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFd, EPOLLIN.rawValue)
    }

    deinit {
        close(epfd)
        close(wakeFd)
    }

    var inEventLoop: Bool {
        let t = threadID.load(ordering: .acquiring)
        return t != 0 && pthread_equal(pthread_t(t), pthread_self()) != 0
    }

    func start(name: String) {
        // The thread owns the loop only while its body runs: Foundation releases a Thread, and
        // this closure, from a thread-exit destructor that runs after libdispatch's own, and the
        // loop's teardown (its connections, the server context behind them, `finished`) must not
        // run libdispatch on a thread whose libdispatch state is gone (see WorkerPool.start).
        let thread = Thread { [weak self] in
            guard let self else { return }
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            run()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs `task` on the loop thread (soon, in order).
    func execute(_ task: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(task) }
        var one: UInt64 = 1
        _ = write(wakeFd, &one, 8)
    }

    /// Registers edge-triggered interest in reads and writes for the source's lifetime.
    func register(_ fd: Int32, _ source: EventLoopSource, events: UInt32 = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue) {
        sources[fd] = source
        clinuxio_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, events)
    }

    func setInterest(_ fd: Int32, events: UInt32) {
        clinuxio_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, events)
    }

    func deregister(_ fd: Int32) {
        sources[fd] = nil
        clinuxio_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0)
    }

    var sourceCount: Int { sources.count }

    func forEachSource(_ body: (EventLoopSource) -> Void) {
        for s in Array(sources.values) { body(s) }
    }

    func stop() {
        stopped.withLock { $0 = true }
        execute {}
    }

    func waitUntilStopped() { finished.wait() }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    private func run() {
        var fds = [Int32](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)
        while !stopped.withLock({ $0 }) {
            let n = clinuxio_epoll_wait(epfd, &fds, &events, 256, Int32(Self.tickInterval * 1000))
            if n < 0 && errno != EINTR { break }
            for i in 0..<max(0, Int(n)) {
                let fd = fds[i]
                let flags = events[i]
                if fd == wakeFd {
                    var value: UInt64 = 0
                    _ = read(wakeFd, &value, 8)
                    continue
                }
                sources[fd]?.ready(readable: flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0,
                                   writable: flags & EPOLLOUT.rawValue != 0,
                                   hangup: flags & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0)
            }
            runInbox()
            let now = Self.now()
            if now - lastTick >= Self.tickInterval {
                lastTick = now
                forEachSource { $0.tick(now: now) }
            }
        }
        runInbox()
        finished.signal()
    }

    private func runInbox() {
        while true {
            let tasks = inbox.withLock { t -> [@Sendable () -> Void] in
                defer { t.removeAll(keepingCapacity: true) }
                return t
            }
            if tasks.isEmpty { return }
            for task in tasks { task() }
        }
    }
}
