import Foundation

/// How often a job may start before quantd stops retrying it (`jobs.max_attempts`): a model that
/// kills its node every time must not take down node after node forever.
struct AttemptPolicy: Sendable, Equatable {
    var maxAttempts: Int

    /// The failed job's `error`.
    var exhaustedMessage: String {
        "the job was cut off \(maxAttempts) times (its node crashed, was killed, ran out of memory or lost the database); it is not retried again (jobs.max_attempts = \(maxAttempts))"
    }

    /// What becomes of a running job whose node stopped (it died, or is starting again): the
    /// queue again while it has attempts left, failed for good once it has none, cancelled if a
    /// user asked for that. The one rule for both stores.
    func abandon(_ job: inout Job, at now: Date) {
        job.progress = 0
        job.leaseExpiresAt = nil
        if job.cancelRequested {
            job.status = .cancelled
            job.finishedAt = now
        } else if job.attempts < maxAttempts {
            job.status = .queued
            job.startedAt = nil
        } else {
            job.status = .failed
            job.finishedAt = now
            job.error = exhaustedMessage
        }
    }
}
