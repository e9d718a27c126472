import Synchronization

/// Large buffers kept after use for the next request of a similar size.
///
/// A fresh buffer is new memory whose every page faults, and is zeroed, on first touch: for a
/// ResNet50-sized weight file inflated in two parts, ~19 thousand faults, and copying the
/// second part into untouched pages took 13–17 ms against 4–5 ms into touched ones; faulting
/// in upload chunks was ~11% of an upload's CPU time. A server runs job after job on models
/// of similar sizes, so a few spares held while idle (at most `keepCount`, `keepBytes` in all)
/// save those faults. One size only (upload chunks, artifact blocks, gzip members) is the
/// simple case: every spare fits every request.
public final class RecycledBuffers: Sendable {
    public static let shared = RecycledBuffers(keepBytes: 1 << 30, keepCount: 4)

    private let keepBytes: Int
    private let keepCount: Int
    private let alignment: Int
    /// Spares, oldest first, as address and size (integers, so the type is plainly Sendable).
    private let spares = Mutex<[(address: UInt, count: Int)]>([])

    /// `alignment`: of every buffer (4096 for O_DIRECT writes).
    public init(keepBytes: Int = .max, keepCount: Int, alignment: Int = 64) {
        self.keepBytes = keepBytes
        self.keepCount = keepCount
        self.alignment = alignment
    }

    /// An `alignment`-aligned buffer of at least `byteCount` bytes: the smallest spare that holds
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
        return .allocate(byteCount: max(byteCount, 1), alignment: alignment)
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
