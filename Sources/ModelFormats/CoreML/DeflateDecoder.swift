import CDeflateDecoder

/// Decodes a whole raw deflate stream (zip method 8) into a buffer of the size the archive
/// declares, with our C decoder: zlib's streaming inflate is the slowest step of a job on a
/// `zip -r` upload (~160 MB/s on float16 weights here, about half our decoder's speed).
enum DeflateDecoder {
    /// Returns how many bytes of `output` the stream filled. Throws when the data is not valid
    /// deflate, ends before the stream does, or would expand past `output`.
    ///
    /// `report`, if given, is called on this thread with the count of output bytes that are
    /// final, at most every `reportEvery` bytes (at deflate block ends).
    static func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                       entry: String, reportEvery: Int = 0, report: ((Int) -> Void)? = nil) throws(ArchiveError) -> Int {
        var used = 0
        var written = 0
        let inputBase = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let outputBase = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let result: qd_inflate_result
        if let report {
            result = withoutActuallyEscaping(report) { report in
                var context = report
                return withUnsafeMutablePointer(to: &context) { context in
                    qd_inflate_raw_reporting(inputBase, input.count, outputBase, output.count, &used, &written, reportEvery, { context, produced in
                        context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(produced)
                    }, context)
                }
            }
        } else {
            result = qd_inflate_raw(inputBase, input.count, outputBase, output.count, &used, &written)
        }
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
