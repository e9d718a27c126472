import Synchronization

/// The server's open connections as the caps see them: how many each client address holds, and
/// which are still waiting for a request head, since when. At a cap the listener closes the
/// connection that has waited longest for its head rather than refuse the newcomer, so clients
/// that dribble request heads cannot crowd out one that sends its request promptly.
final class ConnectionRegistry: Sendable {
    struct Victim {
        let loop: EventLoop
        let connection: HTTPConnection
    }

    private struct Entry {
        let address: String
        let loop: EventLoop
        weak var connection: HTTPConnection?
        /// When the connection started waiting for its current head; nil while it has one.
        var waitingSince: Double?
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perAddress: [String: Int] = [:]
    }

    private let state = Mutex(State())

    func add(_ connection: HTTPConnection, address: String, loop: EventLoop, now: Double) {
        state.withLock { s in
            s.entries[ObjectIdentifier(connection)] = Entry(address: address, loop: loop, connection: connection, waitingSince: now)
            s.perAddress[address, default: 0] += 1
        }
    }

    func remove(_ connection: HTTPConnection) {
        state.withLock { s in
            guard let entry = s.entries.removeValue(forKey: ObjectIdentifier(connection)) else { return }
            let left = (s.perAddress[entry.address] ?? 1) - 1
            s.perAddress[entry.address] = left > 0 ? left : nil
        }
    }

    /// Marks the connection as waiting for a head (`since` a time) or as having one (nil).
    func setWaiting(_ connection: HTTPConnection, since: Double?) {
        state.withLock { s in s.entries[ObjectIdentifier(connection)]?.waitingSince = since }
    }

    func count(address: String) -> Int {
        state.withLock { $0.perAddress[address] ?? 0 }
    }

    /// The connection (from `address`, or any) that has waited longest for its head, no longer
    /// counted as waiting so that it is chosen once; nil when every connection is busy.
    func takeLongestWaiting(address: String?) -> Victim? {
        state.withLock { s in
            var best: (key: ObjectIdentifier, since: Double)?
            for (key, entry) in s.entries {
                guard let since = entry.waitingSince, address == nil || entry.address == address else { continue }
                if best == nil || since < best!.since { best = (key, since) }
            }
            guard let key = best?.key, let entry = s.entries[key], let connection = entry.connection else { return nil }
            s.entries[key]?.waitingSince = nil
            return Victim(loop: entry.loop, connection: connection)
        }
    }
}
