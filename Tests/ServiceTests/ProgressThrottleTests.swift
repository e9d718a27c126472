import Testing
@testable import Service

@Suite struct ProgressThrottleTests {
    @Test func writesOnlyAfterBothAStepAndAnInterval() {
        var throttle = ProgressThrottle(start: 100)
        // Early reports of a fast job: none written, however far they move.
        #expect(!throttle.shouldWrite(0.5, at: 100.1))
        #expect(!throttle.shouldWrite(0.9, at: 100.2))
        #expect(throttle.shouldWrite(0.9, at: 100.25))
        // Then each needs another step and another interval.
        #expect(!throttle.shouldWrite(0.92, at: 101))
        #expect(!throttle.shouldWrite(0.96, at: 100.4))
        #expect(throttle.shouldWrite(0.96, at: 100.5))
        #expect(!throttle.shouldWrite(0.99, at: 100.8))
    }
}
