import CZlib
import Foundation
import Glibc
import ModelFormats
import Synchronization

/// Rewrites an artifact stored as several concatenated gzip members (by quantd before it wrote
/// one member) as one member, the first time it is downloaded: temp file, fsync, rename, then
/// the job row. A download already streaming the old file keeps its open file to the end.
struct ArtifactRewrite: Sendable {
    let data: DataDirectory
    let store: any JobStore
    let gzip: ParallelGzip

    /// One rewrite at a time, so two downloads of the same old artifact never both write it.
    private static let lock = Mutex(())

    /// The job with its artifact in one member; rewritten first if it was stored in several.
    func oneMember(_ job: Job) throws -> Job {
        guard job.artifactEncoding == .gzipMembers else { return job }
        return try Self.lock.withLock { _ in
            guard let current = try store.job(job.id) else { return job }
            guard current.artifactEncoding == .gzipMembers else { return current }
            let path = data.artifact(job: job.id)
            let tmp = data.temporary("\(job.id).one-member.gz")
            defer { unlink(tmp) }
            let bytes = try Self.rewrite(path, to: tmp, gzip: gzip)
            try DataDirectory.commit(tmp, to: path)
            return try store.update(job.id) { job in
                job.artifactEncoding = .gzip
                job.artifactBytes = Int64(bytes)
            } ?? current
        }
    }

    /// Inflates every member of `source` in turn and gzips the whole as one member to
    /// `destination`, fsynced; returns its size.
    static func rewrite(_ source: String, to destination: String, gzip: ParallelGzip) throws -> Int {
        let input = try MemoryMappedFile(path: source, accessPattern: .sequential)
        let fd = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Problem.storage("cannot create the rewritten artifact: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let output = ParallelGzip.Stream(gzip, output: fd)
        var stream = z_stream()
        // 15 + 16: a gzip wrapper around a 32 KiB-window deflate stream.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Problem.internalError("zlib could not start inflating the stored artifact")
        }
        defer { inflateEnd(&stream) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        try input.withBytes { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                throw Problem.storage("the stored artifact is empty; run the job again")
            }
            stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(bytes.count)
            while true {
                stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(buffer.count)
                let status = inflate(&stream, Z_NO_FLUSH)
                try output.write(UnsafeRawBufferPointer(rebasing: buffer[0..<(buffer.count - Int(stream.avail_out))]))
                let corrupt = Problem.storage("the stored artifact is not valid gzip; run the job again")
                switch status {
                case Z_OK: continue
                case Z_STREAM_END:
                    if stream.avail_in == 0 { return }
                    // The next member starts where this one ended.
                    guard inflateReset(&stream) == Z_OK else { throw corrupt }
                default: throw corrupt
                }
            }
        }
        let size = try output.finish()
        guard fsync(fd) == 0 else { throw Problem.storage("fsync of the rewritten artifact failed: \(String(cString: strerror(errno)))") }
        return size
    }
}
