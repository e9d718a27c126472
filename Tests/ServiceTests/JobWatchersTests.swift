import Foundation
import Synchronization
import Testing
@testable import Service

@Suite struct JobWatchersTests {
    /// Counts callbacks and lets a test wait for them without sleeping blindly.
    final class Calls: Sendable {
        private let count = Mutex(0)
        private let signal = DispatchSemaphore(value: 0)
        func record() { count.withLock { $0 += 1 }; signal.signal() }
        var value: Int { count.withLock { $0 } }
        func await(seconds: Double) -> Bool { signal.wait(timeout: .now() + seconds) == .success }
    }

    @Test func aFinishedJobFiresItsWatchersOnceAndNoOneElses() {
        let watchers = JobWatchers()
        let mine = Calls(), other = Calls()
        _ = watchers.watch("job_a", seconds: 60) { mine.record() }
        _ = watchers.watch("job_a", seconds: 60) { mine.record() }
        _ = watchers.watch("job_b", seconds: 60) { other.record() }
        #expect(watchers.count == 3)
        watchers.finished("job_a")
        watchers.finished("job_a")
        #expect(mine.value == 2)
        #expect(other.value == 0)
        #expect(watchers.count == 1)
    }

    @Test func theDeadlineFiresAWatcherOnceAndForgetsIt() {
        let watchers = JobWatchers()
        let calls = Calls()
        let watcher = watchers.watch("job_a", seconds: 0.05) { calls.record() }
        #expect(calls.await(seconds: 10))
        watcher.fire()
        watchers.finished("job_a")
        #expect(calls.value == 1)
        #expect(watchers.count == 0)
    }

    @Test func aRemovedWatcherIsNotFiredByItsJob() {
        let watchers = JobWatchers()
        let calls = Calls()
        let watcher = watchers.watch("job_a", seconds: 60) { calls.record() }
        watchers.remove(watcher)
        watchers.finished("job_a")
        #expect(calls.value == 0)
        #expect(watchers.count == 0)
    }

    @Test func releaseAllFiresEveryWatcherOnce() {
        let watchers = JobWatchers()
        let calls = Calls()
        _ = watchers.watch("job_a", seconds: 60) { calls.record() }
        _ = watchers.watch("job_b", seconds: 60) { calls.record() }
        watchers.releaseAll()
        watchers.finished("job_a")
        #expect(calls.value == 2)
        #expect(watchers.count == 0)
    }

    @Test func theStoreFiresWatchersWhenAnUpdateFinishesTheJobNotBefore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("watchers-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("quantd.sqlite").path)
        try store.insert(JobStoreTests.job("job_a"))
        let calls = Calls()
        _ = store.watchers.watch("job_a", seconds: 60) { calls.record() }
        _ = try store.update("job_a") { $0.status = .running; $0.progress = 0.5 }
        #expect(calls.value == 0)
        _ = try store.update("job_a") { $0.status = .failed; $0.finishedAt = Date() }
        #expect(calls.value == 1)
    }
}
