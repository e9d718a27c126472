import Foundation
import Synchronization
import Testing
@testable import HTTP

@Suite struct EventLoopTests {
    /// Once the loop's thread has returned from its body, it no longer owns the loop.
    /// Foundation keeps a finished Thread (and its closure) until the thread's exit
    /// destructors, which run after libdispatch has freed its state for the thread: too late
    /// for the loop's teardown (its connections and what they hold) to run libdispatch.
    /// Holding the loop's Thread here stands for those destructors not having run yet.
    @Test func aStoppedLoopsThreadDoesNotOwnTheLoop() throws {
        let loopThread = Mutex<Thread?>(nil)
        let ran = DispatchSemaphore(value: 0)
        var loop: EventLoop? = EventLoop()
        weak let released = loop
        loop?.start(name: "test-loop")
        loop?.execute {
            loopThread.withLock { $0 = Thread.current }
            ran.signal()
        }
        #expect(ran.wait(timeout: .now() + 10) == .success)
        loop?.stop()
        loop?.waitUntilStopped()
        loop = nil
        let thread = try #require(loopThread.withLock { $0 })
        let deadline = Date() + 10
        while !thread.isFinished && Date() < deadline { usleep(1000) }
        #expect(thread.isFinished)
        #expect(released == nil)
    }
}
