import Synchronization

/// Large aligned buffers kept for reuse: a fresh multi-megabyte buffer is new memory, and
/// faulting its pages in one by one was ~11% of an upload's CPU time here.
final class BufferPool: Sendable {
    let byteCount: Int
    private let alignment: Int
    private let keep: Int
    /// Spare buffers' addresses (integers, so the pool is plainly Sendable).
    private let spare = Mutex<[UInt]>([])

    /// Buffers of `byteCount` bytes; at most `keep` are held while unused.
    init(byteCount: Int, alignment: Int = 4096, keep: Int) {
        self.byteCount = byteCount
        self.alignment = alignment
        self.keep = keep
    }

    func take() -> UnsafeMutableRawBufferPointer {
        if let address = spare.withLock({ $0.popLast() }) {
            return UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: address), count: byteCount)
        }
        return .allocate(byteCount: byteCount, alignment: alignment)
    }

    /// Returns a buffer from `take`; the caller must not use it afterwards.
    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        let address = UInt(bitPattern: buffer.baseAddress)
        let kept = spare.withLock { spare in
            guard spare.count < keep else { return false }
            spare.append(address)
            return true
        }
        if !kept { buffer.deallocate() }
    }
}
