import Dispatch
import Synchronization

/// Callbacks waiting for jobs to finish, so that `GET /v1/jobs/{id}?wait=S` answers the moment
/// a job ends instead of a pipeline polling in a loop (each poll a process, a connection and a
/// request competing with the job for the same cores).
///
/// Each watcher fires exactly once: when its job finishes, or at its deadline, whichever comes
/// first. Watching a job that has already finished is the caller's to check after `watch`
/// returns (then `fire` it), so a finish between the check and the registration is never lost.
final class JobWatchers: Sendable {
    final class Watcher: Sendable {
        fileprivate let jobID: String
        private let callback: Mutex<(@Sendable () -> Void)?>

        fileprivate init(jobID: String, callback: @escaping @Sendable () -> Void) {
            self.jobID = jobID
            self.callback = Mutex(callback)
        }

        /// Runs the callback if it has not run yet.
        func fire() {
            callback.withLock { c -> (@Sendable () -> Void)? in defer { c = nil }; return c }?()
        }
    }

    private let waiting = Mutex<[String: [ObjectIdentifier: Watcher]]>([:])
    private let timers = DispatchQueue(label: "quantd.job-watchers")

    /// Registers `callback` to run once job `id` finishes or `seconds` pass.
    func watch(_ id: String, seconds: Double, _ callback: @escaping @Sendable () -> Void) -> Watcher {
        let watcher = Watcher(jobID: id, callback: callback)
        waiting.withLock { $0[id, default: [:]][ObjectIdentifier(watcher)] = watcher }
        timers.asyncAfter(deadline: .now() + seconds) { [self] in
            remove(watcher)
            watcher.fire()
        }
        return watcher
    }

    /// Fires every watcher of job `id`.
    func finished(_ id: String) {
        let fired = waiting.withLock { $0.removeValue(forKey: id) }
        fired?.values.forEach { $0.fire() }
    }

    /// Fires every watcher: on shutdown, held requests answer with the job as it is rather
    /// than wait out the grace period.
    func releaseAll() {
        let fired = waiting.withLock { w in defer { w.removeAll() }; return w }
        fired.values.forEach { $0.values.forEach { $0.fire() } }
    }

    /// The jobs someone is waiting for.
    var watchedIDs: [String] { waiting.withLock { Array($0.keys) } }

    /// How many requests are waiting (for tests and metrics).
    var count: Int { waiting.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    func remove(_ watcher: Watcher) {
        waiting.withLock { waiting in
            waiting[watcher.jobID]?.removeValue(forKey: ObjectIdentifier(watcher))
            if waiting[watcher.jobID]?.isEmpty == true { waiting.removeValue(forKey: watcher.jobID) }
        }
    }
}
