import CDeflateDecoder
import Foundation

/// A deflated zip entry decoded on its own thread, readable front to back as its output
/// becomes final: a job compresses the first weights of a `zip -r` upload while the rest is
/// still being inflated, instead of waiting for the whole file. Large files are inflated in
/// parts at once (ResNet50's 47 MB: ~160 ms in one part, ~90 ms in two here), and the weights
/// in the first part are compressed as it goes.
///
/// The archive's bytes must stay valid until `waitUntilDone()` returns.
public final class InflatingEntry: @unchecked Sendable {
    // @unchecked: `buffer` is written by the decoding thread only below `produced`'s next
    // value and read by others only below its current value; `produced` and `outcome` are
    // guarded by `condition`.
    public let path: String
    private let entry: ZipEntry
    private let storage: UnsafeMutableRawBufferPointer
    private let buffer: UnsafeMutableRawBufferPointer
    private let condition = NSCondition()
    private var produced = 0
    private var outcome: Result<Void, ArchiveError>?

    /// Reported at most every this many bytes, so waiting readers wake a few hundred times
    /// for a large file rather than at each of its thousands of deflate blocks.
    private static let reportEvery = 256 << 10

    /// Stretches of the stream decoded at once (see `DeflateDecoder.decode(_:into:entry:parts:)`):
    /// one per core. The job's encoders share the cores, but they wait on this output anyway.
    private static let parts = ProcessInfo.processInfo.activeProcessorCount

    /// Starts decoding `entry` of `zip` (deflated) from the archive's `bytes`.
    init(_ entry: ZipEntry, of zip: ZipArchive, in bytes: UnsafeRawBufferPointer) {
        precondition(entry.method == .deflated, "entry '\(entry.path)' is not deflated")
        path = entry.path
        self.entry = entry
        storage = RecycledBuffers.shared.take(atLeast: Int(entry.uncompressedByteCount))
        buffer = UnsafeMutableRawBufferPointer(rebasing: storage[0..<Int(entry.uncompressedByteCount)])
        // The caller keeps the archive's bytes valid until decoding ends (see the type's note).
        nonisolated(unsafe) let input = zip.rawData(of: entry, in: bytes)
        // A thread of its own: readers block on it from dispatch's workers, which Linux's
        // libdispatch does not replace while they wait. The thread owns the entry only while it
        // decodes: a finished Thread, and this closure, are released from a thread-exit
        // destructor, after libdispatch has torn down the thread's state.
        let thread = Thread { [weak self] in self?.decode(input) }
        thread.name = "quantd.inflate"
        thread.start()
    }

    deinit { RecycledBuffers.shared.give(storage) }

    public var byteCount: Int { buffer.count }

    /// The whole buffer once its first `end` bytes are decoded (waiting until then); only
    /// those may be read. Throws if decoding failed before reaching them.
    public func bytes(decodedThrough end: Int) throws(ArchiveError) -> UnsafeRawBufferPointer {
        precondition(end <= buffer.count, "\(end) bytes requested of \(buffer.count)")
        condition.lock()
        defer { condition.unlock() }
        while produced < end, outcome == nil { condition.wait() }
        if produced < end, case .failure(let error)? = outcome { throw error }
        return UnsafeRawBufferPointer(buffer)
    }

    /// Waits for the whole entry and checks its size and CRC-32; the result keeps this
    /// object (and so the buffer) alive.
    public func finish() throws(ArchiveError) -> EntryData {
        let result = waitUntilDone()
        if case .failure(let error) = result { throw error }
        return EntryData(keeping: self, bytes: UnsafeRawBufferPointer(buffer))
    }

    /// Whether decoding has ended, however it ended; does not wait.
    public var isDone: Bool {
        condition.lock()
        defer { condition.unlock() }
        return outcome != nil
    }

    /// Waits for decoding to end, however it ends.
    @discardableResult
    public func waitUntilDone() -> Result<Void, ArchiveError> {
        condition.lock()
        defer { condition.unlock() }
        while outcome == nil { condition.wait() }
        return outcome!
    }

    private func decode(_ input: UnsafeRawBufferPointer) {
        let result = Result { () throws(ArchiveError) in
            let count = try DeflateDecoder.decode(input, into: buffer, entry: path, parts: Self.parts,
                                                  reportEvery: Self.reportEvery) { [self] done in
                condition.lock()
                produced = done
                condition.broadcast()
                condition.unlock()
            }
            guard count == buffer.count else {
                throw .sizeMismatch(entry: path, declared: entry.uncompressedByteCount, actual: UInt64(count))
            }
            try ZipArchive.verifyChecksum(of: entry, UnsafeRawBufferPointer(buffer))
        }
        condition.lock()
        if case .success = result { produced = buffer.count }
        outcome = result
        condition.broadcast()
        condition.unlock()
    }
}
