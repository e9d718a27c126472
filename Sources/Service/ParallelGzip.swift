import CZlib
import Dispatch
import Foundation
import Glibc

/// Compresses a file into a multi-member gzip file: the input is cut into fixed-size pieces,
/// each compressed on its own (in parallel) as a complete gzip member, and the members are
/// written in order. Every gunzip reads concatenated members as one stream (RFC 1952 §2.2).
///
/// Quantized weights are high-entropy, so LZ matching gains almost nothing on them; the
/// Huffman-only strategy keeps nearly the same ratio at a fraction of the cost.
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

    /// Compresses `input` (an in-memory or mapped buffer) to the file descriptor `output`.
    /// `isCancelled` is polled between batches. Returns the compressed size.
    public func compress(_ input: UnsafeRawBufferPointer, to output: Int32,
                         isCancelled: () -> Bool = { false }) throws -> Int {
        let members = max(1, (input.count + memberBytes - 1) / memberBytes)
        let batch = concurrency * 2
        var written = 0
        var first = 0
        while first < members {
            if isCancelled() { throw CancellationError() }
            let count = min(batch, members - first)
            let results = UnsafeMutableBufferPointer<[UInt8]?>.allocate(capacity: count)
            results.initialize(repeating: nil)
            defer {
                results.deinitialize()
                results.deallocate()
            }
            let (base, size, level, strategy) = (first, memberBytes, level, strategy.zlibValue)
            // Each iteration reads its own slice of `input` and writes its own result slot.
            nonisolated(unsafe) let (source, slots) = (input, results)
            DispatchQueue.concurrentPerform(iterations: count) { k in
                let start = (base + k) * size
                let piece = UnsafeRawBufferPointer(rebasing: source[start..<min(source.count, start + size)])
                slots[k] = Self.member(piece, level: level, strategy: strategy)
            }
            for k in 0..<count {
                guard let bytes = results[k] else { throw Failure(description: "zlib failed to compress a gzip member") }
                try Self.writeAll(bytes, to: output)
                written += bytes.count
            }
            first += count
        }
        return written
    }

    /// One complete gzip member (header, deflate stream, CRC-32 and size trailer).
    static func member(_ input: UnsafeRawBufferPointer, level: Int32, strategy: Int32) -> [UInt8]? {
        var stream = z_stream()
        // windowBits 15 + 16 selects the gzip wrapper.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let ok = out.withUnsafeMutableBytes { o -> Bool in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(o.count)
            return deflate(&stream, Z_FINISH) == Z_STREAM_END
        }
        guard ok else { return nil }
        out.removeSubrange(Int(stream.total_out)...)
        return out
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32) throws {
        try bytes.withUnsafeBytes { b in
            var offset = 0
            while offset < b.count {
                let n = write(fd, b.baseAddress! + offset, b.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure(description: "writing the artifact failed: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }
}
