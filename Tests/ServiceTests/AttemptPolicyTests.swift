import Foundation
import Testing
@testable import Service

@Suite struct AttemptPolicyTests {
    static func running(attempts: Int, cancelRequested: Bool = false) -> Job {
        var job = JobStoreTests.job("job_x", status: .running)
        job.attempts = attempts
        job.startedAt = Date(timeIntervalSince1970: 100)
        job.progress = 0.4
        job.node = "dead"
        job.leaseExpiresAt = Date(timeIntervalSince1970: 130)
        job.cancelRequested = cancelRequested
        return job
    }

    @Test func aJobWithAttemptsLeftGoesBackToTheQueue() {
        var job = Self.running(attempts: 2)
        AttemptPolicy(maxAttempts: 3).abandon(&job, at: Date(timeIntervalSince1970: 200))
        #expect(job.status == .queued)
        #expect(job.startedAt == nil && job.leaseExpiresAt == nil && job.progress == 0 && job.finishedAt == nil)
        #expect(job.attempts == 2, "attempts count starts, not requeues")
    }

    @Test func aJobOutOfAttemptsFailsSayingWhy() {
        var job = Self.running(attempts: 3)
        let policy = AttemptPolicy(maxAttempts: 3)
        policy.abandon(&job, at: Date(timeIntervalSince1970: 200))
        #expect(job.status == .failed)
        #expect(job.finishedAt == Date(timeIntervalSince1970: 200))
        #expect(job.error == policy.exhaustedMessage)
        #expect(policy.exhaustedMessage.contains("jobs.max_attempts = 3"))
    }

    @Test func aCancelRequestedWhileItsNodeWasGoneEndsItCancelled() {
        var job = Self.running(attempts: 1, cancelRequested: true)
        AttemptPolicy(maxAttempts: 3).abandon(&job, at: Date(timeIntervalSince1970: 200))
        #expect(job.status == .cancelled && job.error == nil && job.finishedAt != nil)
    }
}
