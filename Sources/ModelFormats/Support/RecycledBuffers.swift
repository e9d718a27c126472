import Synchronization

/// Large buffers kept after use for the next request of a similar size.
///
/// A fresh buffer is new memory whose every page faults, and is zeroed, on first touch: for a
/// ResNet50-sized weight file inflated in two parts, ~19 thousand faults, and copying the
/// second part into untouched pages took 13–17 ms against 4–5 ms into touched ones. A server
/// runs job after job on models of similar sizes, so a few spares held while idle (at most
/// `keepBytes` in all) save those faults.
public final class RecycledBuffers: Sendable {
    public static let shared = RecycledBuffers(keepBytes: 1 << 30, keepCount: 4)

    private let keepBytes: Int
    private let keepCount: Int
    /// Spares, oldest first, as address and size (integers, so the type is plainly Sendable).
    private let spares = Mutex<[(address: UInt, count: Int)]>([])

    public init(keepBytes: Int, keepCount: Int) {
        self.keepBytes = keepBytes
        self.keepCount = keepCount
    }

    /// A 64-byte-aligned buffer of at least `byteCount` bytes: the smallest spare that holds
    /// them without being more than twice as large, or a new one. Give it back with `give`.
    public func take(atLeast byteCount: Int) -> UnsafeMutableRawBufferPointer {
        let reused: (address: UInt, count: Int)? = spares.withLock { spares in
            let fitting = spares.indices.filter { spares[$0].count >= byteCount && spares[$0].count / 2 <= byteCount }
            guard let best = fitting.min(by: { spares[$0].count < spares[$1].count }) else { return nil }
            return spares.remove(at: best)
        }
        if let reused {
            return UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: reused.address), count: reused.count)
        }
        return .allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    /// Takes back a buffer from `take` (the caller must not use it afterwards): kept as a spare,
    /// the oldest spares freed to stay within the limits, or freed itself if it alone exceeds them.
    public func give(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count <= keepBytes, keepCount > 0 else {
            buffer.deallocate()
            return
        }
        let evicted: [UInt] = spares.withLock { spares in
            spares.append((UInt(bitPattern: buffer.baseAddress), buffer.count))
            var evicted: [UInt] = []
            while spares.count > keepCount || spares.reduce(0, { $0 + $1.count }) > keepBytes {
                evicted.append(spares.removeFirst().address)
            }
            return evicted
        }
        for address in evicted { UnsafeMutableRawPointer(bitPattern: address)?.deallocate() }
    }

    /// Spare sizes, oldest first (for tests).
    var spareSizes: [Int] { spares.withLock { $0.map(\.count) } }
}
