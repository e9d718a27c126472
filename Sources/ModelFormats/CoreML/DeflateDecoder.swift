import CDeflateDecoder
import Foundation

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
        var part = qd_inflate_part()
        part.in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        part.in_len = input.count
        part.out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        part.out_capacity = output.count
        let result = run(&part, reportEvery: reportEvery, report: report)
        try check(result, entry: entry, declared: output.count)
        return part.out_len
    }

    /// Below this much input per part, splitting costs more than it saves.
    static let minimumPartInput = 4 << 20

    /// `decode`, in up to `parts` stretches decoded at once, each after the first on a thread of
    /// its own: inflating is sequential by nature, and a `zip -r` weight file is most of a job.
    ///
    /// Part k starts at the first block found after k/parts of the input, decoded without the
    /// 32 KiB of output before it (see `qd_inflate_part`); the part before stops at that bit,
    /// which proves it a real block start, and the speculative output is then moved into place
    /// and its matches into the unknown history copied again. Whenever a part cannot be used (no
    /// block start found, the part before ran past it, an error in it) the rest is decoded in
    /// order from where the last good part ended, so the output, and any error, are exactly
    /// those of `decode`. Reports come from the first part as it goes, then once per part added.
    static func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, entry: String,
                       parts: Int, reportEvery: Int = 0, report: ((Int) -> Void)? = nil) throws(ArchiveError) -> Int {
        try decodeInParts(input, into: output, entry: entry, parts: parts, minimumPartInput: minimumPartInput,
                          reportEvery: reportEvery, report: report).count
    }

    /// `decode(_:into:entry:parts:)`, saying how many parts were decoded at once (1: none).
    static func decodeInParts(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, entry: String,
                              parts requested: Int, minimumPartInput: Int, reportEvery: Int = 0,
                              report: ((Int) -> Void)? = nil) throws(ArchiveError) -> (count: Int, partsUsed: Int) {
        let parts = min(requested, input.count / minimumPartInput)
        guard parts > 1, let inputBase = input.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let outputBase = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return (try decode(input, into: output, entry: entry, reportEvery: reportEvery, report: report), 1)
        }
        // starts[k − 1]: the bit part k found, published for part k − 1 to stop at.
        let starts = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: parts)
        starts.initialize(repeating: QD_INFLATE_STOP_PENDING)
        let bits = UInt64(input.count) * 8
        let region = { (k: Int) in bits * UInt64(k) / UInt64(parts) }
        let speculations = (1..<parts).map { k in
            Speculation(input: input, stop: k + 1 < parts ? (starts.baseAddress! + k, region(k + 1)) : nil,
                        outputCapacity: output.count, from: region(k), to: region(k + 1), publishing: starts.baseAddress! + k - 1)
        }
        defer {
            for speculation in speculations { speculation.waitUntilDone() }
            starts.deallocate()
        }

        var first = qd_inflate_part()
        first.in = inputBase
        first.in_len = input.count
        first.out = outputBase
        first.out_capacity = output.count
        first.stop_bit = UnsafePointer(starts.baseAddress!)
        first.stop_from = region(1)
        var result = run(&first, reportEvery: reportEvery, report: report)
        var produced = first.out_len
        var endBit = first.end_bit
        var partsUsed = 1
        for speculation in speculations {
            guard result == QD_INFLATE_STOPPED else { break }
            guard let part = speculation.waitUntilDone(), part.start_bit == endBit,
                  part.out_len <= output.count - produced else { break }
            (outputBase + produced).update(from: speculation.buffer.baseAddress! + Int(QD_INFLATE_WINDOW), count: part.out_len)
            guard qd_inflate_replay(outputBase + produced, produced, speculation.matches.baseAddress, part.match_count) == 0 else { break }
            produced += part.out_len
            endBit = part.end_bit
            result = speculation.result
            partsUsed += 1
            if reportEvery > 0 { report?(produced) }
        }
        if result == QD_INFLATE_STOPPED {
            var rest = qd_inflate_part()
            rest.in = inputBase
            rest.in_len = input.count
            rest.start_bit = endBit
            rest.out = outputBase
            rest.out_start = produced
            rest.out_capacity = output.count
            result = run(&rest, reportEvery: reportEvery, report: report)
            produced += rest.out_len
        }
        try check(result, entry: entry, declared: output.count)
        return (produced, partsUsed)
    }

    /// One part after the first: found and decoded on its own thread, into its own buffer.
    private final class Speculation: @unchecked Sendable {
        // @unchecked: `part` and `result` are written by the thread before `done` is signalled
        // and read by others only after waiting on it.
        private let storage: UnsafeMutableRawBufferPointer
        let buffer: UnsafeMutableBufferPointer<UInt8>
        let matches: UnsafeMutableBufferPointer<qd_inflate_match>
        private(set) var part = qd_inflate_part()
        private(set) var result = QD_INFLATE_NO_BLOCK_START
        private let done = DispatchSemaphore(value: 0)
        private var waited = false

        init(input: UnsafeRawBufferPointer, stop: (bit: UnsafeMutablePointer<UInt64>, from: UInt64)?, outputCapacity: Int,
             from: UInt64, to: UInt64, publishing start: UnsafeMutablePointer<UInt64>) {
            // Pages are touched only as far as the part writes; the history stand-in is zeros.
            storage = RecycledBuffers.shared.take(atLeast: Int(QD_INFLATE_WINDOW) + outputCapacity)
            buffer = storage.bindMemory(to: UInt8.self)
            buffer.baseAddress!.initialize(repeating: 0, count: Int(QD_INFLATE_WINDOW))
            // Floating-point weights need about one record per 4 KB of output (ResNet50's:
            // 14 thousand for 25 MB); text, whose matches chain without end, would need one per
            // match and is decoded in order instead.
            matches = .allocate(capacity: 65536 + outputCapacity / 256)
            part.in = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            part.in_len = input.count
            part.out = buffer.baseAddress
            part.out_start = Int(QD_INFLATE_WINDOW)
            part.out_capacity = buffer.count
            part.stop_bit = stop.map { UnsafePointer($0.bit) }
            part.stop_from = stop?.from ?? 0
            part.matches = matches.baseAddress
            part.match_capacity = matches.count
            // The caller keeps `input` and the published starts valid until this thread ends.
            nonisolated(unsafe) let start = start
            // The thread owns the part only while it decodes: a finished Thread, and this
            // closure, are released from a thread-exit destructor that runs after libdispatch's
            // own, too late to release `done` (a libdispatch object) safely.
            let thread = Thread { [weak self] in
                guard let self else { return }
                result = qd_inflate_speculate(&part, from, to, start)
                done.signal()
            }
            thread.name = "quantd.inflate"
            thread.start()
        }

        deinit {
            RecycledBuffers.shared.give(storage)
            matches.deallocate()
        }

        /// The decoded part once the thread ends, or nil if it is not usable.
        @discardableResult
        func waitUntilDone() -> qd_inflate_part? {
            if !waited {
                done.wait()
                waited = true
            }
            return result == QD_INFLATE_OK || result == QD_INFLATE_STOPPED ? part : nil
        }
    }

    private static func run(_ part: inout qd_inflate_part, reportEvery: Int, report: ((Int) -> Void)?) -> qd_inflate_result {
        guard let report, reportEvery > 0 else { return qd_inflate_part_run(&part) }
        return withoutActuallyEscaping(report) { report in
            var context = report
            return withUnsafeMutablePointer(to: &context) { context in
                part.report_every = reportEvery
                part.report = { context, produced in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(produced)
                }
                part.context = UnsafeMutableRawPointer(context)
                defer { part.report = nil; part.context = nil }
                return qd_inflate_part_run(&part)
            }
        }
    }

    private static func check(_ result: qd_inflate_result, entry: String, declared: Int) throws(ArchiveError) {
        switch result {
        case QD_INFLATE_OK:
            return
        case QD_INFLATE_TRUNCATED:
            throw .truncated(what: "the deflate data of entry '\(entry)'")
        case QD_INFLATE_OUTPUT_FULL:
            throw .expandsPastDeclaredSize(entry: entry, declared: UInt64(declared))
        default:
            throw .corrupt(entry: entry, reason: String(cString: qd_inflate_message(result)))
        }
    }
}
