import CHuffmanGzip
import CZlib
import Dispatch
import Foundation
import Glibc
import ModelFormats
import Synchronization

/// Writes one gzip member from a stream of bytes, compressed in parallel the way pigz does: the
/// stream is cut into fixed-size chunks, each deflated on its own (no history crosses a chunk)
/// while the producer goes on; every chunk but the last ends on a byte boundary without the
/// final-block bit, so the chunks concatenate into one deflate stream. One header, one trailer
/// whose CRC-32 is combined from the chunks' CRCs. One member matters: with
/// `Content-Encoding: gzip`, curl, browsers and most HTTP clients read only the first member of
/// a multi-member body.
///
/// Quantized weights are high-entropy, so LZ matching gains almost nothing on them: the default
/// is CHuffmanGzip's Huffman-only encoder, several times zlib's speed at the same ratio (the
/// README's `gzip.strategy` row has the figures).
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

    public var chunkBytes: Int
    public var level: Int32
    public var strategy: Strategy
    public var concurrency: Int

    public init(chunkBytes: Int = 4 << 20, level: Int32 = 1, strategy: Strategy = .huffmanOnly,
                concurrency: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.chunkBytes = chunkBytes
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
            let n = min(chunkBytes, input.count - offset)
            try stream.write(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + n)]))
            offset += n
        } while offset < input.count
        return try stream.finish()
    }

    /// The member header (RFC 1952 §2.3): deflate, no flags, name or time, OS 3 (Unix).
    static let header: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]

    /// Incremental form: `write` as bytes are produced, then `finish`. Not thread-safe; one
    /// producer at a time.
    public final class Stream {
        private final class Chunk: @unchecked Sendable {
            // @unchecked: `size` and `crc` are written once by the compressing thread before
            // `done` is signalled, and read only after waiting on it.
            let done = DispatchGroup()
            let output: UnsafeMutableRawBufferPointer
            let count: Int
            var size: Int?
            var crc: UInt32 = 0

            init(output: UnsafeMutableRawBufferPointer, count: Int) {
                self.output = output
                self.count = count
            }
        }

        private let settings: ParallelGzip
        private let output: (UnsafeRawBufferPointer) throws -> Void
        private let buffers: Buffers
        /// The chunk being filled, and how much of it is. A full chunk is submitted only when
        /// more bytes arrive, because the last chunk must be known to carry the final block.
        private var current: UnsafeMutableRawBufferPointer
        private var filled = 0
        private var inFlight: [Chunk] = []
        private var written = 0
        private var crc: UInt32 = 0
        private var total = 0
        private static let queue = DispatchQueue(label: "quantd.gzip", attributes: .concurrent)

        /// The member goes to `output` in order, from the thread that calls `write` and `finish`.
        public init(_ settings: ParallelGzip, output: @escaping (UnsafeRawBufferPointer) throws -> Void) {
            self.settings = settings
            self.output = output
            buffers = Buffers.forChunks(of: settings.chunkBytes)
            current = buffers.takeInput()
        }

        public convenience init(_ settings: ParallelGzip, output fd: Int32) {
            self.init(settings, output: { try writeAll($0, to: fd) })
        }

        deinit {
            // Abandoned after an error: whatever is still compressing finishes first.
            for chunk in inFlight {
                chunk.done.wait()
                buffers.output.give(chunk.output)
            }
            buffers.input.give(current)
        }

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                if filled == settings.chunkBytes { try submit(last: false) }
                let n = min(bytes.count - offset, settings.chunkBytes - filled)
                (current.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
                filled += n
                offset += n
            }
        }

        /// Compresses what is left as the last chunk, waits for every chunk and writes the
        /// trailer; returns the compressed size.
        public func finish() throws -> Int {
            // An empty input still makes one (empty) final block, so the file is valid gzip.
            try submit(last: true)
            while !inFlight.isEmpty { try drainOldest() }
            var trailer = [UInt8](repeating: 0, count: 8)
            for i in 0..<4 {
                trailer[i] = UInt8(truncatingIfNeeded: crc >> (8 * i))
                trailer[4 + i] = UInt8(truncatingIfNeeded: UInt32(truncatingIfNeeded: total) >> (8 * i))
            }
            try trailer.withUnsafeBytes { try output($0) }
            written += trailer.count
            return written
        }

        private func submit(last: Bool) throws {
            let chunk = Chunk(output: buffers.takeOutput(), count: filled)
            nonisolated(unsafe) let input = current
            let buffers = buffers
            current = buffers.takeInput()
            filled = 0
            let (level, strategy) = (settings.level, settings.strategy)
            chunk.done.enter()
            Self.queue.async {
                let bytes = UnsafeRawBufferPointer(rebasing: input[0..<chunk.count])
                chunk.crc = CRC32.checksum(bytes)
                chunk.size = ParallelGzip.deflateChunk(bytes, last: last, level: level, strategy: strategy, into: chunk.output)
                buffers.input.give(input)
                chunk.done.leave()
            }
            inFlight.append(chunk)
            // A window of two chunks per core keeps every core busy and memory bounded.
            while inFlight.count > settings.concurrency * 2 { try drainOldest() }
        }

        private func drainOldest() throws {
            let chunk = inFlight.removeFirst()
            chunk.done.wait()
            defer { buffers.output.give(chunk.output) }
            guard let size = chunk.size else { throw Failure(description: "zlib failed to compress a gzip chunk") }
            if written == 0 {
                try ParallelGzip.header.withUnsafeBytes { try output($0) }
                written = ParallelGzip.header.count
            }
            try output(UnsafeRawBufferPointer(rebasing: chunk.output[0..<size]))
            written += size
            crc = CRC32.combine(crc, chunk.crc, secondLength: chunk.count)
            total += chunk.count
        }
    }

    /// Chunk input and output buffers, shared by every stream with the same chunk size: a
    /// job's artifact is tens of chunks, and fresh buffers' page faults were ~9% of a Core
    /// ML job's CPU time.
    private struct Buffers: Sendable {
        let chunkBytes: Int
        let input: RecycledBuffers
        let output: RecycledBuffers

        private static let pools = Mutex<[Int: Buffers]>([:])

        func takeInput() -> UnsafeMutableRawBufferPointer { input.take(atLeast: chunkBytes) }
        func takeOutput() -> UnsafeMutableRawBufferPointer { output.take(atLeast: ParallelGzip.bound(chunkBytes)) }

        static func forChunks(of chunkBytes: Int) -> Buffers {
            pools.withLock { pools in
                if let buffers = pools[chunkBytes] { return buffers }
                // Two chunks per core in flight, one being filled, one being written.
                let keep = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
                let buffers = Buffers(chunkBytes: chunkBytes, input: RecycledBuffers(keepCount: keep),
                                      output: RecycledBuffers(keepCount: keep))
                pools[chunkBytes] = buffers
                return buffers
            }
        }
    }

    /// Room enough for a chunk of `count` bytes with any strategy: zlib's bound for stored
    /// blocks and a sync flush, which also covers CHuffmanGzip's.
    static func bound(_ count: Int) -> Int {
        max(chg_bound(count), count + (count >> 12) + (count >> 14) + (count >> 25) + 13 + 18 + 5 * (count / 16383 + 1))
    }

    /// One chunk's raw deflate blocks written to `output` (at least `bound(input.count)` bytes):
    /// the `last` one ends with the final block, any other with an empty stored block on a byte
    /// boundary (zlib's Z_SYNC_FLUSH); their size, or nil if zlib failed. Huffman-only chunks
    /// are written by CHuffmanGzip: the same blocks zlib's Z_HUFFMAN_ONLY writes, at ~8× its
    /// speed on quantized weights.
    static func deflateChunk(_ input: UnsafeRawBufferPointer, last: Bool, level: Int32, strategy: Strategy,
                             into output: UnsafeMutableRawBufferPointer) -> Int? {
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if strategy == .huffmanOnly {
            let size = chg_deflate_chunk(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, last ? 1 : 0,
                                         out, output.count)
            return size > 0 ? size : nil
        }
        var stream = z_stream()
        // Negative window bits: raw deflate, no zlib or gzip wrapper.
        guard deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, strategy.zlibValue, ZLIB_VERSION,
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        // The sync flush's empty stored block (5 bytes) on top of zlib's bound for Z_FINISH.
        guard Int(deflateBound(&stream, uLong(input.count))) + 8 <= output.count else { return nil }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = out
        stream.avail_out = uInt(output.count)
        let status = deflate(&stream, last ? Z_FINISH : Z_SYNC_FLUSH)
        guard status == (last ? Z_STREAM_END : Z_OK), stream.avail_in == 0 else { return nil }
        return Int(stream.total_out)
    }
}
