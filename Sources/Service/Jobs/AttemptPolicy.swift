/// How often a job may start before quantd stops retrying it (`jobs.max_attempts`): a model that
/// kills its node every time must not take down node after node forever.
struct AttemptPolicy: Sendable, Equatable {
    var maxAttempts: Int

    /// Whether a job that has started `attempts` times and was cut off goes back to the queue.
    func retries(afterAttempts attempts: Int) -> Bool { attempts < maxAttempts }

    /// The failed job's `error`.
    var exhaustedMessage: String {
        "the job was cut off \(maxAttempts) times (its node crashed, was killed, ran out of memory or lost the database); it is not retried again (jobs.max_attempts = \(maxAttempts))"
    }
}
