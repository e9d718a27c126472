import CDeflateDecoder
import CZlib
import Testing
@testable import ModelFormats

/// Our decoder against zlib's inflate, the reference it must agree with byte for byte and
/// verdict for verdict (the same error message, since ours uses zlib's words).
@Suite struct DeflateDecoderTests {
    @Test(arguments: [0, 1, 255, 65_535, 65_536, 3 << 20])
    func decodesWhatZlibEncodesAtEveryLevelAndStrategy(size: Int) {
        var random = SplitMix64(seed: UInt64(size))
        let inputs: [(String, [UInt8])] = [
            ("zeros", [UInt8](repeating: 0, count: size)),
            ("four symbols", (0..<size).map { _ in UInt8(random.next() % 4) }),
            ("text-like", (0..<size).map { _ in random.next() % 4 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(97 + random.next() % 8) }),
            ("uniform", (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }),
            ("float16 weights", float16Weights(count: size / 2, random: &random)),
        ]
        let settings: [(Int32, Int32)] = [(0, Z_DEFAULT_STRATEGY), (1, Z_DEFAULT_STRATEGY), (6, Z_DEFAULT_STRATEGY),
                                          (9, Z_DEFAULT_STRATEGY), (6, Z_HUFFMAN_ONLY), (6, Z_RLE), (6, Z_FIXED)]
        for (name, data) in inputs {
            for (level, strategy) in settings where size < 1 << 20 || level == 6 {
                let stream = ZipTestBytes.rawDeflate(data, level: level, strategy: strategy)
                #expect(ourInflate(stream, capacity: data.count) == .decoded(data, used: stream.count),
                        "\(name), level \(level), strategy \(strategy)")
            }
        }
    }

    @Test(arguments: [1, 2, 3, 7, 8, 15, 16, 17, 258, 32_768])
    func copiesLongAndOverlappingMatches(distance: Int) {
        // A fixed block: `distance` literals, then that window repeated by 258-byte matches
        // (overlapping when shorter than 258) and shorter ones, then literals, so that the
        // matches are copied both far from the buffer ends and near them.
        var random = SplitMix64(seed: UInt64(distance))
        let window = (0..<distance).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var bits = DeflateBitWriter()
        bits.header(final: true, type: 1)
        window.forEach { bits.fixedSymbol(Int($0)) }
        var expected = window
        for length in [258, 258, 258, 3, 100, 9, 17, 33, 258, 258, 258, 258] {
            bits.fixedMatch(length: length, distance: distance)
            for _ in 0..<length { expected.append(expected[expected.count - distance]) }
        }
        for _ in 0..<64 {
            let literal = UInt8(truncatingIfNeeded: random.next())
            bits.fixedSymbol(Int(literal))
            expected.append(literal)
        }
        bits.fixedSymbol(256)
        #expect(ourInflate(bits.bytes, capacity: expected.count) == .decoded(expected, used: bits.bytes.count))
        #expect(zlibInflate(bits.bytes, capacity: expected.count) == .decoded(expected, used: bits.bytes.count))
    }

    @Test func reportsTruncationAtEveryCut() {
        var random = SplitMix64(seed: 7)
        let data = (0..<3_000).map { _ in UInt8(97 + random.next() % 12) }
        for (level, strategy) in [(6, Z_DEFAULT_STRATEGY), (0, Z_DEFAULT_STRATEGY), (6, Z_FIXED)] as [(Int32, Int32)] {
            let stream = ZipTestBytes.rawDeflate(data, level: level, strategy: strategy)
            for cut in 0..<stream.count {
                let prefix = Array(stream[..<cut])
                #expect(ourInflate(prefix, capacity: data.count) == .truncated, "level \(level) cut at \(cut)")
                #expect(zlibInflate(prefix, capacity: data.count) == .truncated, "zlib, level \(level) cut at \(cut)")
            }
        }
    }

    @Test func agreesWithZlibOnRandomBitFlips() {
        var random = SplitMix64(seed: 2024)
        let text = (0..<4_000).map { _ in random.next() % 5 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(97 + random.next() % 16) }
        let streams = [
            ZipTestBytes.rawDeflate(text, level: 6), ZipTestBytes.rawDeflate(text, level: 1),
            ZipTestBytes.rawDeflate(text, level: 6, strategy: Z_FIXED), ZipTestBytes.rawDeflate(text, level: 0),
            ZipTestBytes.rawDeflate(text, level: 6, strategy: Z_HUFFMAN_ONLY),
        ]
        var verdicts: [String: Int] = [:]
        for stream in streams {
            for _ in 0..<800 {
                var flipped = stream
                for _ in 0...(random.next() % 3) {
                    let bit = Int(random.next() % UInt64(stream.count * 8))
                    flipped[bit / 8] ^= 1 << (bit % 8)
                }
                if random.next() % 4 == 0 { flipped.removeLast(Int(random.next() % UInt64(stream.count))) }
                let ours = ourInflate(flipped, capacity: text.count)
                #expect(ours == zlibInflate(flipped, capacity: text.count))
                verdicts[ours.kind, default: 0] += 1
            }
        }
        // The flips must reach every verdict, or the test shows less than it claims.
        #expect(Set(verdicts.keys) == ["decoded", "truncated", "output full", "corrupt"], "\(verdicts)")
    }

    @Test func refusesOutputPastTheCapacity() {
        let data = [UInt8](repeating: 9, count: 100_000)
        for (level, strategy) in [(9, Z_DEFAULT_STRATEGY), (0, Z_DEFAULT_STRATEGY), (6, Z_HUFFMAN_ONLY)] as [(Int32, Int32)] {
            let stream = ZipTestBytes.rawDeflate(data, level: level, strategy: strategy)
            for capacity in [0, 1, 99_999] {
                #expect(ourInflate(stream, capacity: capacity) == .outputFull, "level \(level), capacity \(capacity)")
            }
        }
    }

    @Test func rejectsCorruptStreams() {
        func expectCorrupt(_ stream: [UInt8], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(ourInflate(stream, capacity: 1_000) == .corrupt(message), sourceLocation: sourceLocation)
            #expect(zlibInflate(stream, capacity: 1_000) == .corrupt(message), sourceLocation: sourceLocation)
        }
        var reserved = DeflateBitWriter()
        reserved.header(final: true, type: 3)
        expectCorrupt(reserved.bytes, "invalid block type")

        var tooFar = DeflateBitWriter()
        tooFar.header(final: true, type: 1)
        tooFar.fixedSymbol(Int(UInt8(ascii: "a")))
        tooFar.fixedMatch(length: 3, distance: 2)
        tooFar.fixedSymbol(256)
        expectCorrupt(tooFar.bytes, "invalid distance too far back")

        var storedLengths = DeflateBitWriter()
        storedLengths.header(final: true, type: 0)
        storedLengths.bits(0, 5)
        storedLengths.bits(5, 16)
        storedLengths.bits(5, 16)
        expectCorrupt(storedLengths.bytes, "invalid stored block lengths")

        let oversubscribedPrecode = DeflateBitWriter.dynamicBlock(precode: [Int](repeating: 1, count: 19), lengths: [])
        expectCorrupt(oversubscribedPrecode, "invalid code lengths set")
        let incompletePrecode = DeflateBitWriter.dynamicBlock(precode: [0, 0, 0, 1] + [Int](repeating: 0, count: 15), lengths: [])
        expectCorrupt(incompletePrecode, "invalid code lengths set")

        let allOnes = [Int](repeating: 1, count: 257)
        expectCorrupt(DeflateBitWriter.dynamicBlock(literalLength: allOnes, distance: [1]), "invalid literal/lengths set")
        // Incomplete: only zlib's single one-bit exception is allowed.
        var incomplete = [Int](repeating: 0, count: 257)
        incomplete[0] = 2
        incomplete[256] = 2
        expectCorrupt(DeflateBitWriter.dynamicBlock(literalLength: incomplete, distance: [1]), "invalid literal/lengths set")
        var complete = incomplete
        complete[1] = 1
        expectCorrupt(DeflateBitWriter.dynamicBlock(literalLength: complete, distance: [1, 1, 1]), "invalid distances set")
        expectCorrupt(DeflateBitWriter.dynamicBlock(literalLength: complete.prefix(256) + [0], distance: [1]), "invalid code -- missing end-of-block")
    }

    @Test func acceptsZlibsSingleCodeException() {
        // Literal/length code: 'a' and end-of-block; distance code: one 1-bit code, incomplete
        // but allowed. "a" then a 4-byte match at distance 1.
        var litlen = [Int](repeating: 0, count: 258)
        litlen[97] = 1
        litlen[256] = 2
        litlen[257] = 2
        var bits = DeflateBitWriter()
        bits.dynamicHeader(final: true, literalLength: litlen, distance: [1])
        bits.code(0, 1)
        bits.code(0b11, 2)
        bits.code(0, 1)
        bits.code(0b10, 2)
        #expect(ourInflate(bits.bytes, capacity: 10) == .decoded(Array("aaaa".utf8), used: bits.bytes.count))
        #expect(zlibInflate(bits.bytes, capacity: 10) == .decoded(Array("aaaa".utf8), used: bits.bytes.count))
    }

    @Test func mapsVerdictsToArchiveErrors() throws {
        func decode(_ stream: [UInt8], capacity: Int) throws -> [UInt8] {
            var output = [UInt8](repeating: 0, count: capacity)
            let count = try stream.withUnsafeBytes { input in
                try output.withUnsafeMutableBytes { out in
                    try DeflateDecoder.decode(input, into: out, entry: "w")
                }
            }
            return Array(output[..<count])
        }
        let data = Array(String(repeating: "weights ", count: 100).utf8)
        let stream = ZipTestBytes.rawDeflate(data)
        #expect(try decode(stream, capacity: 800) == data)
        #expect(throws: ArchiveError.truncated(what: "the deflate data of entry 'w'")) { try decode(Array(stream.dropLast(2)), capacity: 800) }
        #expect(throws: ArchiveError.corrupt(entry: "w", reason: "invalid block type")) { try decode([0x07], capacity: 800) }
        #expect(throws: ArchiveError.expandsPastDeclaredSize(entry: "w", declared: 799)) { try decode(stream, capacity: 799) }
    }
}

/// What a decoder made of a stream.
enum InflateVerdict: Equatable {
    case decoded([UInt8], used: Int)
    case truncated
    case outputFull
    case corrupt(String)

    var kind: String {
        switch self {
        case .decoded: "decoded"
        case .truncated: "truncated"
        case .outputFull: "output full"
        case .corrupt: "corrupt"
        }
    }
}

func ourInflate(_ stream: [UInt8], capacity: Int) -> InflateVerdict {
    var output = [UInt8](repeating: 0, count: capacity)
    var used = 0
    var written = 0
    let result = stream.withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { out in
            qd_inflate_raw(input.baseAddress, input.count, out.baseAddress, out.count, &used, &written)
        }
    }
    switch result {
    case QD_INFLATE_OK: return .decoded(Array(output[..<written]), used: used)
    case QD_INFLATE_TRUNCATED: return .truncated
    case QD_INFLATE_OUTPUT_FULL: return .outputFull
    default: return .corrupt(String(cString: qd_inflate_message(result)))
    }
}

/// zlib's verdict with room for one byte more than `capacity`, so that "needs more output"
/// and "needs more input" are told apart as our decoder tells them.
func zlibInflate(_ stream: [UInt8], capacity: Int) -> InflateVerdict {
    // zlib refuses a z_stream that has moved, so it lives at a fixed address.
    let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    z.initialize(to: z_stream())
    defer { inflateEnd(z); z.deallocate() }
    precondition(inflateInit2_(z, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    var output = [UInt8](repeating: 0, count: capacity + 1)
    var input = stream
    let result = input.withUnsafeMutableBufferPointer { i in
        output.withUnsafeMutableBufferPointer { o in
            z.pointee.next_in = i.baseAddress
            z.pointee.avail_in = uInt(i.count)
            z.pointee.next_out = o.baseAddress
            z.pointee.avail_out = uInt(o.count)
            return inflate(z, Z_FINISH)
        }
    }
    if z.pointee.total_out > capacity { return .outputFull }
    switch result {
    case Z_STREAM_END: return .decoded(Array(output[..<Int(z.pointee.total_out)]), used: Int(z.pointee.total_in))
    case Z_DATA_ERROR: return .corrupt(String(cString: z.pointee.msg))
    default: return .truncated
    }
}

/// float16 bit patterns of normal(0, 0.05) weights, as a Core ML weight file holds them.
func float16Weights(count: Int, random: inout SplitMix64) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count * 2)
    for _ in 0..<count {
        // Sum of uniforms: close enough to normal for the byte statistics.
        let sum = (0..<4).reduce(0.0) { total, _ in total + Double(random.next() >> 11) / Double(1 << 53) } - 2
        let bits = Float16(sum * 0.05 * 1.732).bitPattern
        bytes.append(UInt8(truncatingIfNeeded: bits))
        bytes.append(UInt8(bits >> 8))
    }
    return bytes
}

/// Decoding in parts at once against decoding in order: the same bytes and the same verdicts,
/// with the parts really used where the stream allows them.
@Suite struct DeflateDecoderPartsTests {
    /// What `decodeInParts` made of a stream: the bytes, or the error's words, and the parts used.
    struct Outcome: Equatable {
        var bytes: [UInt8]?
        var error: String?
        var partsUsed = 0
        var reports: [Int] = []
    }

    static func decode(_ stream: [UInt8], capacity: Int, parts: Int, minimumPartInput: Int = 16 << 10) -> Outcome {
        var output = [UInt8](repeating: 0xAA, count: capacity)
        var outcome = Outcome()
        do {
            let (count, used) = try stream.withUnsafeBytes { input in
                try output.withUnsafeMutableBytes { out in
                    try DeflateDecoder.decodeInParts(input, into: out, entry: "w", parts: parts, minimumPartInput: minimumPartInput,
                                                     reportEvery: 4096) { outcome.reports.append($0) }
                }
            }
            outcome.bytes = Array(output[..<count])
            outcome.partsUsed = used
        } catch {
            outcome.error = String(describing: error)
        }
        return outcome
    }

    /// Weights, text and four-symbol noise, every level that searches for matches: the same
    /// bytes as one part. Weights and text are split as asked (text's matches chain through
    /// the whole stream, so each part records thousands and copies them again); the noise is
    /// nearly all matches, and whether its parts' records suffice depends on their size.
    @Test(arguments: [2, 3, 4])
    func decodesTheSameBytesAsOnePart(parts: Int) {
        var random = SplitMix64(seed: UInt64(parts))
        let inputs: [(String, [UInt8], split: Bool)] = [
            ("float16 weights", float16Weights(count: 400_000, random: &random), true),
            ("text-like", (0..<600_000).map { _ in random.next() % 4 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(97 + random.next() % 8) }, true),
            ("four symbols", (0..<600_000).map { _ in UInt8(random.next() % 4) }, false),
        ]
        for (name, data, split) in inputs {
            for level: Int32 in [1, 6, 9] {
                let stream = ZipTestBytes.rawDeflate(data, level: level)
                let outcome = Self.decode(stream, capacity: data.count, parts: parts, minimumPartInput: stream.count / (parts + 1))
                #expect(outcome.bytes == data, "\(name), level \(level)")
                #expect(!split || outcome.partsUsed == parts, "\(name), level \(level)")
                #expect(outcome.reports == outcome.reports.sorted() && outcome.reports.last == data.count, "\(name), level \(level)")
            }
        }
    }

    /// A part whose matches into unknown history outgrow its records (one per 256 bytes of
    /// output, and 65536) is decoded in order instead.
    @Test func decodesInOrderWhenMatchesOutgrowTheRecords() {
        var random = SplitMix64(seed: 3)
        let data = (0..<(4 << 20)).map { _ in UInt8(random.next() % 4) }
        let stream = ZipTestBytes.rawDeflate(data, level: 1)
        let outcome = Self.decode(stream, capacity: data.count, parts: 2, minimumPartInput: 4096)
        #expect(outcome.bytes == data)
        #expect(outcome.partsUsed == 1)
    }

    /// Stored and fixed-code blocks give no block start to find: one part, the same bytes.
    @Test func decodesInOrderWhereNoBlockStartIsFound() {
        var random = SplitMix64(seed: 11)
        let data = float16Weights(count: 200_000, random: &random)
        for strategy in [Z_FIXED, Z_DEFAULT_STRATEGY] {
            let stream = ZipTestBytes.rawDeflate(data, level: strategy == Z_FIXED ? 6 : 0, strategy: strategy)
            let outcome = Self.decode(stream, capacity: data.count, parts: 2, minimumPartInput: 4096)
            #expect(outcome.bytes == data)
            #expect(outcome.partsUsed == 1)
        }
    }

    /// A damaged byte anywhere, a cut anywhere, or a declared size one short: the verdict one
    /// part gives, word for word.
    @Test func failsAsOnePartDoes() {
        var random = SplitMix64(seed: 5)
        let data = float16Weights(count: 200_000, random: &random)
        let stream = ZipTestBytes.rawDeflate(data, level: 6)
        var damaged: [[UInt8]] = []
        for position in stride(from: stream.count / 8, to: stream.count, by: stream.count / 9) {
            for mask: UInt8 in [0x01, 0x10, 0xFF] {
                var bytes = stream
                bytes[position] ^= mask
                damaged.append(bytes)
            }
        }
        let cuts = [stream.count / 3, stream.count / 2, stream.count * 3 / 4, stream.count - 1].map { Array(stream[..<$0]) }
        var failures = 0
        for bytes in damaged + cuts {
            let inOrder = Self.decode(bytes, capacity: data.count, parts: 1)
            let inParts = Self.decode(bytes, capacity: data.count, parts: 3, minimumPartInput: 4096)
            #expect(inParts.bytes == inOrder.bytes && inParts.error == inOrder.error)
            if inOrder.error != nil { failures += 1 }
        }
        #expect(failures >= cuts.count)
        let short = Self.decode(stream, capacity: data.count - 1, parts: 3, minimumPartInput: 4096)
        #expect(short.error == String(describing: ArchiveError.expandsPastDeclaredSize(entry: "w", declared: UInt64(data.count - 1))))
    }
}
