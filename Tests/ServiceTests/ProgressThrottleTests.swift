import Testing
@testable import Service

@Suite struct ProgressThrottleTests {
    @Test func writesOnlyAfterBothAStepAndAnInterval() {
        var throttle = ProgressThrottle(start: 100)
        // (progress, time, written?): early reports of a fast job are not written, however far
        // they move; then each needs another step and another interval.
        let reports: [(Double, Double, Bool)] = [
            (0.5, 100.1, false), (0.9, 100.2, false), (0.9, 100.25, true),
            (0.92, 101, false), (0.96, 100.4, false), (0.96, 100.5, true), (0.99, 100.8, false),
        ]
        for (progress, time, written) in reports {
            let decision = throttle.shouldWrite(progress, at: time)
            #expect(decision == written, "\(progress) at \(time)")
        }
    }
}
