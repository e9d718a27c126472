import Foundation
import Postgres
import PostgresTestSupport
import Synchronization
import Testing

@Suite struct PostgresListenerTests {
    @Test func deliversNotificationsAndListensAgainAfterLosingItsConnection() throws {
        let url = try TestDatabase.make()
        let received = Mutex<[PostgresNotification]>([])
        let reconnects = Atomic(0)
        let listener = PostgresListener(url: url, channels: ["jobs_a", "jobs_b"],
                                        handler: { n in received.withLock { $0.append(n) } },
                                        reconnected: { reconnects.add(1, ordering: .relaxed) })
        listener.start()
        defer { listener.stop() }
        let sender = try PostgresConnection(url: url)
        #expect(wait { listener.isListening.load(ordering: .relaxed) })
        try sender.execute("SELECT pg_notify('jobs_a', 'one'), pg_notify('other', 'ignored')")
        #expect(wait { received.withLock { $0 } == [PostgresNotification(channel: "jobs_a", payload: "one")] })

        // The server drops the listener's connection: it dials again, says so, and listens on.
        try sender.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'quantd-listener' AND datname = current_database()")
        #expect(wait { reconnects.load(ordering: .relaxed) == 1 && listener.isListening.load(ordering: .relaxed) })
        try sender.execute("SELECT pg_notify('jobs_b', 'two')")
        #expect(wait { received.withLock { $0.last } == PostgresNotification(channel: "jobs_b", payload: "two") })
    }

    private func wait(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(15)
        while !condition() {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return true
    }
}
