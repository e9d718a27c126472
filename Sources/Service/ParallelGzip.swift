import CHuffmanGzip
import CZlib
import Dispatch
import Foundation
import Glibc
import ModelFormats
import Synchronization

/// Writes a multi-member gzip file from a stream of bytes: the stream is cut into fixed-size
/// pieces, each compressed on its own (in parallel, while the producer goes on) as a complete
/// gzip member, and the members are written in order. Every gunzip reads concatenated members
/// as one stream (RFC 1952 §2.2).
///
/// Quantized weights are high-entropy, so LZ matching gains almost nothing on them. Measured
/// here on int8 codes of normal weights with zlib 1.2.13: default strategy level 1 32 MB/s,
/// Huffman-only 66 MB/s, RLE 79 MB/s per core at the same ratio; CHuffmanGzip's Huffman-only
/// encoder (four literals per store, CRC-32 by carry-less multiplication) 520–680 MB/s, which
/// is the default.
public struct ParallelGzip: Sendable {
    public enum Strategy: String, Sendable, CaseIterable {
        case huffmanOnly = "huffman"
        case rle
        case standard

        var zlibValue: Int32 {
            switch self {
            case .huffmanOnly: Z_HUFFMAN_ONLY
            case .rle: Z_RLE
            case .standard: Z_DEFAULT_STRATEGY
            }
        }
    }

    public var memberBytes: Int
    public var level: Int32
    public var strategy: Strategy
    public var concurrency: Int

    public init(memberBytes: Int = 4 << 20, level: Int32 = 1, strategy: Strategy = .huffmanOnly,
                concurrency: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.memberBytes = memberBytes
        self.level = level
        self.strategy = strategy
        self.concurrency = max(1, concurrency)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Compresses a whole buffer to `output`; returns the compressed size.
    public func compress(_ input: UnsafeRawBufferPointer, to output: Int32,
                         isCancelled: () -> Bool = { false }) throws -> Int {
        let stream = Stream(self, output: output)
        var offset = 0
        repeat {
            if isCancelled() { throw CancellationError() }
            let n = min(memberBytes, input.count - offset)
            try stream.write(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + n)]))
            offset += n
        } while offset < input.count
        return try stream.finish()
    }

    /// Incremental form: `write` as bytes are produced, then `finish`. Not thread-safe; one
    /// producer at a time.
    public final class Stream {
        private final class Member: @unchecked Sendable {
            // @unchecked: `size` is written once by the compressing thread before `done` is
            // signalled, and read only after waiting on it.
            let done = DispatchGroup()
            let output: UnsafeMutableRawBufferPointer
            var size: Int?

            init(output: UnsafeMutableRawBufferPointer) { self.output = output }
        }

        private let settings: ParallelGzip
        private let output: (UnsafeRawBufferPointer) throws -> Void
        private let buffers: Buffers
        /// The member being filled, and how much of it is.
        private var current: UnsafeMutableRawBufferPointer
        private var filled = 0
        private var inFlight: [Member] = []
        private var written = 0
        private var empty = true
        private static let queue = DispatchQueue(label: "quantd.gzip", attributes: .concurrent)

        /// Members go to `output` in order, from the thread that calls `write` and `finish`.
        public init(_ settings: ParallelGzip, output: @escaping (UnsafeRawBufferPointer) throws -> Void) {
            self.settings = settings
            self.output = output
            buffers = Buffers.forMembers(of: settings.memberBytes)
            current = buffers.takeInput()
        }

        public convenience init(_ settings: ParallelGzip, output fd: Int32) {
            self.init(settings, output: { try writeAll($0, to: fd) })
        }

        deinit {
            // Abandoned after an error: whatever is still compressing finishes first.
            for member in inFlight {
                member.done.wait()
                buffers.output.give(member.output)
            }
            buffers.input.give(current)
        }

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                let n = min(bytes.count - offset, settings.memberBytes - filled)
                (current.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
                filled += n
                offset += n
                if filled == settings.memberBytes { try submit() }
            }
        }

        /// Compresses what is left and waits for every member; returns the compressed size.
        public func finish() throws -> Int {
            // An empty input still makes one (empty) member, so the file is valid gzip.
            if filled > 0 || empty { try submit() }
            while !inFlight.isEmpty { try drainOldest() }
            return written
        }

        private func submit() throws {
            empty = false
            let member = Member(output: buffers.takeOutput())
            nonisolated(unsafe) let input = current
            let (count, buffers) = (filled, buffers)
            current = buffers.takeInput()
            filled = 0
            let (level, strategy) = (settings.level, settings.strategy.zlibValue)
            member.done.enter()
            Self.queue.async {
                member.size = ParallelGzip.member(UnsafeRawBufferPointer(rebasing: input[0..<count]), level: level,
                                                  strategy: strategy, into: member.output)
                buffers.input.give(input)
                member.done.leave()
            }
            inFlight.append(member)
            // A window of two members per core keeps every core busy and memory bounded.
            while inFlight.count > settings.concurrency * 2 { try drainOldest() }
        }

        private func drainOldest() throws {
            let member = inFlight.removeFirst()
            member.done.wait()
            defer { buffers.output.give(member.output) }
            guard let size = member.size else { throw Failure(description: "zlib failed to compress a gzip member") }
            try output(UnsafeRawBufferPointer(rebasing: member.output[0..<size]))
            written += size
        }
    }

    /// Member input and output buffers, shared by every stream with the same member size: a
    /// job's artifact is tens of members, and fresh buffers' page faults were ~9% of a Core
    /// ML job's CPU time.
    private struct Buffers: Sendable {
        let memberBytes: Int
        let input: RecycledBuffers
        let output: RecycledBuffers

        private static let pools = Mutex<[Int: Buffers]>([:])

        func takeInput() -> UnsafeMutableRawBufferPointer { input.take(atLeast: memberBytes) }
        func takeOutput() -> UnsafeMutableRawBufferPointer { output.take(atLeast: ParallelGzip.bound(memberBytes)) }

        static func forMembers(of memberBytes: Int) -> Buffers {
            pools.withLock { pools in
                if let buffers = pools[memberBytes] { return buffers }
                // Two members per core in flight, one being filled, one being written.
                let keep = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
                let buffers = Buffers(memberBytes: memberBytes, input: RecycledBuffers(keepCount: keep),
                                      output: RecycledBuffers(keepCount: keep))
                pools[memberBytes] = buffers
                return buffers
            }
        }
    }

    /// Room enough for a member of `count` bytes with any strategy: zlib's bound for a stored
    /// stream with the gzip wrapper, which also covers CHuffmanGzip's.
    static func bound(_ count: Int) -> Int {
        max(chg_bound(count), count + (count >> 12) + (count >> 14) + (count >> 25) + 13 + 18 + 5 * (count / 16383 + 1))
    }

    /// One complete gzip member (header, deflate stream, CRC-32 and size trailer) written to
    /// `output` (at least `bound(input.count)` bytes); its size, or nil if zlib failed.
    /// Huffman-only members are written by CHuffmanGzip: the same format zlib's Z_HUFFMAN_ONLY
    /// writes, at ~8× its speed on quantized weights.
    static func member(_ input: UnsafeRawBufferPointer, level: Int32, strategy: Int32,
                       into output: UnsafeMutableRawBufferPointer) -> Int? {
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if strategy == Z_HUFFMAN_ONLY {
            let size = chg_gzip_member(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, out, output.count)
            return size > 0 ? size : nil
        }
        var stream = z_stream()
        // windowBits 15 + 16 selects the gzip wrapper.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        guard Int(deflateBound(&stream, uLong(input.count))) <= output.count else { return nil }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = out
        stream.avail_out = uInt(output.count)
        guard deflate(&stream, Z_FINISH) == Z_STREAM_END else { return nil }
        return Int(stream.total_out)
    }
}
