import CZlib
import Foundation
import Glibc
import ModelFormats
import Testing
@testable import Service

@Suite struct ParallelGzipTests {
    /// Inflates a gzip buffer with zlib as exactly one member, as curl and browsers read a
    /// `Content-Encoding: gzip` body: nil unless the member ends exactly where the buffer does
    /// (zlib checks the trailer's CRC-32 and size on the way).
    static func gunzip(_ data: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let status: Int32 = data.withUnsafeBytes { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(data.count)
            var status = Z_OK
            while status == Z_OK {
                status = chunk.withUnsafeMutableBytes { o in
                    stream.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(o.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                out += chunk[0..<(chunk.count - Int(stream.avail_out))]
            }
            return status
        }
        guard status == Z_STREAM_END, Int(stream.total_in) == data.count else { return nil }
        return out
    }

    static func compress(_ input: [UInt8], gzip: ParallelGzip) throws -> [UInt8] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID())").path
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd); unlink(path) }
        let written = try input.withUnsafeBytes { try gzip.compress($0, to: fd) }
        let data = try #require(FileManager.default.contents(atPath: path))
        #expect(data.count == written)
        return Array(data)
    }

    static func sample(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            // Skewed like quantized weights: mostly small magnitudes.
            return UInt8(truncatingIfNeeded: Int8(clamping: Int((state >> 33) % 41) - 20))
        }
    }

    @Test(arguments: ParallelGzip.Strategy.allCases, [0, 1, 65_535, 65_536, 131_072, 200_001])
    func roundTripsThroughZlib(strategy: ParallelGzip.Strategy, size: Int) throws {
        let input = Self.sample(size, seed: UInt64(size) + 1)
        let gz = try Self.compress(input, gzip: ParallelGzip(chunkBytes: 65_536, strategy: strategy, concurrency: 2))
        #expect(Self.gunzip(gz) == input)
    }

    /// The Huffman-only encoder's own edge cases: one symbol (its code must still be complete),
    /// every byte value, and several 256 KiB deflate blocks in one member.
    @Test func huffmanChunksRoundTripAndCompressSkewedData() throws {
        let constant = [UInt8](repeating: 7, count: 600_000)
        let everyValue = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        let skewed = Self.sample(600_000, seed: 11)
        // The last mixes stored and coded blocks in one member.
        for input in [constant, everyValue, skewed, everyValue + skewed] {
            let gz = try Self.compress(input, gzip: ParallelGzip(chunkBytes: 1 << 20, strategy: .huffmanOnly, concurrency: 2))
            #expect(Self.gunzip(gz) == input)
            // Uniform bytes cannot shrink: they are stored (5 bytes a 64 KiB block, plus the gzip
            // frame), not coded; anything skewed must shrink.
            if input == constant || input == skewed { #expect(gz.count < input.count / 2 + input.count / 4) }
            if input == everyValue { #expect(gz.count <= input.count + (input.count / 65_535 + 1) * 5 + 64) }
        }
    }

    /// Frequencies halving from symbol to symbol give natural code lengths past deflate's limit
    /// (and the encoder's 14 bits); lengths that are not multiples of its four-literal step
    /// exercise the tail.
    @Test func huffmanChunksRoundTripWhenCodesMustBeLengthLimited() throws {
        var geometric: [UInt8] = []
        for symbol in 0..<24 { geometric += [UInt8](repeating: UInt8(symbol * 11), count: max(1, 1 << (18 - symbol))) }
        // A fixed permutation (multiplying by a number coprime to the count) spreads every symbol.
        let n = geometric.count
        let stride = (1...).lazy.map { 7919 * $0 + 1 }.first { gcd($0, n) == 1 }!
        geometric = (0..<n).map { geometric[($0 * stride) % n] }
        for count in [1, 2, 3, 5, 4097, 262_147, geometric.count] {
            let input = Array(geometric.prefix(count))
            let gz = try Self.compress(input, gzip: ParallelGzip(chunkBytes: 1 << 22, strategy: .huffmanOnly, concurrency: 1))
            #expect(Self.gunzip(gz) == input, "\(count) bytes")
        }
    }

    private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// One header, one trailer: the gzip magic appears once at the start, zlib reads the
    /// whole file as a single member, and the trailer holds the combined CRC-32 and the size.
    @Test func writesExactlyOneMemberWhateverTheChunkCount() throws {
        let input = Self.sample(300_001, seed: 9)
        for strategy in ParallelGzip.Strategy.allCases {
            let gz = try Self.compress(input, gzip: ParallelGzip(chunkBytes: 65_536, strategy: strategy, concurrency: 2))
            #expect(Array(gz.prefix(10)) == ParallelGzip.header)
            #expect(Self.gunzip(gz) == input, "\(strategy)")
            let trailer = Array(gz.suffix(8))
            let crc = trailer[0..<4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let size = trailer[4..<8].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(crc == input.withUnsafeBytes { CRC32.checksum($0) })
            #expect(size == UInt32(input.count))
        }
    }

    @Test func systemGunzipReadsTheArtifact() throws {
        let input = Self.sample(300_000, seed: 3)
        let gz = try Self.compress(input, gzip: ParallelGzip(chunkBytes: 65_536, concurrency: 2))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gunzip-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.gz")
        try Data(gz).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-d", file.path]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("a")) == Data(input))
    }

    @Test func stopsWhenCancelled() throws {
        let input = Self.sample(300_000, seed: 4)
        let fd = open("/dev/null", O_WRONLY)
        defer { close(fd) }
        #expect(throws: CancellationError.self) {
            try input.withUnsafeBytes { try ParallelGzip(chunkBytes: 65_536).compress($0, to: fd, isCancelled: { true }) }
        }
    }
}
