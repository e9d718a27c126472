import CDeflateDecoder

/// Decodes a whole raw deflate stream (zip method 8) into a buffer of the size the archive
/// declares, with our C decoder: zlib's streaming inflate is the slowest step of a job on a
/// `zip -r` upload (~160 MB/s on float16 weights here, about half our decoder's speed).
enum DeflateDecoder {
    /// Returns how many bytes of `output` the stream filled. Throws when the data is not valid
    /// deflate, ends before the stream does, or would expand past `output`.
    static func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                       entry: String) throws(ArchiveError) -> Int {
        var used = 0
        var written = 0
        let result = qd_inflate_raw(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count,
                                    output.baseAddress?.assumingMemoryBound(to: UInt8.self), output.count,
                                    &used, &written)
        switch result {
        case QD_INFLATE_OK:
            return written
        case QD_INFLATE_TRUNCATED:
            throw .truncated(what: "the deflate data of entry '\(entry)'")
        case QD_INFLATE_OUTPUT_FULL:
            throw .expandsPastDeclaredSize(entry: entry, declared: UInt64(output.count))
        default:
            throw .corrupt(entry: entry, reason: String(cString: qd_inflate_message(result)))
        }
    }
}
