import CZlib

/// Decodes a raw deflate stream (zip method 8: no zlib or gzip wrapper, hence windowBits −15)
/// piece by piece into a buffer it owns.
///
/// A class because zlib keeps a pointer back to its `z_stream` and rejects calls if the
/// stream has moved, so the stream lives at a fixed heap address for the decoder's life.
final class RawInflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var input: UnsafeRawBufferPointer
    private let entry: String
    private(set) var isFinished = false

    init(_ input: UnsafeRawBufferPointer, entry: String) throws(ArchiveError) {
        self.input = input
        self.entry = entry
        stream.initialize(to: z_stream())
        guard inflateInit2_(stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw .corrupt(entry: entry, reason: "zlib could not start inflating")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Fills the front of `buffer` and returns how many bytes it wrote; 0 only once the stream
    /// has ended. Throws when the data is not valid deflate or ends before the stream does.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int {
        guard !isFinished, let out = buffer.baseAddress else { return 0 }
        stream.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(min(buffer.count, Int(UInt32.max)))
        let capacity = Int(stream.pointee.avail_out)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0, !input.isEmpty {
                // zlib counts input in 32 bits; larger entries are fed in pieces.
                let piece = min(input.count, 1 << 30)
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(piece)
                input = UnsafeRawBufferPointer(rebasing: input[piece...])
            }
            switch inflate(stream, Z_NO_FLUSH) {
            case Z_STREAM_END:
                isFinished = true
                return capacity - Int(stream.pointee.avail_out)
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.pointee.avail_in == 0 && input.isEmpty:
                throw .truncated(what: "the deflate data of entry '\(entry)'")
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid deflate data"
                throw .corrupt(entry: entry, reason: message)
            }
        }
        return capacity
    }
}
