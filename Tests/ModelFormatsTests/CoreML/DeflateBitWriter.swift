/// Writes deflate streams bit by bit, including ones no encoder produces (reserved block types,
/// distances before the start, bad code-length sets) for the decoder's tests.
struct DeflateBitWriter {
    private(set) var bytes: [UInt8] = []
    private var count = 0

    static let lengthBases = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBases = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                                2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let precodeOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// `length` bits of `value`, lowest first (header fields and extra bits).
    mutating func bits(_ value: Int, _ length: Int) {
        for i in 0..<length {
            if count % 8 == 0 { bytes.append(0) }
            bytes[bytes.count - 1] |= UInt8((value >> i) & 1) << (count % 8)
            count += 1
        }
    }

    /// A Huffman code, highest bit first.
    mutating func code(_ code: Int, _ length: Int) {
        for i in (0..<length).reversed() { bits((code >> i) & 1, 1) }
    }

    mutating func header(final: Bool, type: Int) {
        bits(final ? 1 : 0, 1)
        bits(type, 2)
    }

    /// A literal/length symbol in the fixed code.
    mutating func fixedSymbol(_ symbol: Int) {
        switch symbol {
        case 0...143: code(0x30 + symbol, 8)
        case 144...255: code(0x190 + symbol - 144, 9)
        case 256...279: code(symbol - 256, 7)
        default: code(0xC0 + symbol - 280, 8)
        }
    }

    mutating func fixedMatch(length: Int, distance: Int) {
        let l = Self.lengthBases.lastIndex { $0 <= length }!
        fixedSymbol(257 + l)
        bits(length - Self.lengthBases[l], Self.lengthExtra[l])
        let d = Self.distanceBases.lastIndex { $0 <= distance }!
        code(d, 5)
        bits(distance - Self.distanceBases[d], Self.distanceExtra[d])
    }

    /// A dynamic block header whose code lengths are sent with a precode of 4-bit codes for
    /// lengths 0-15.
    mutating func dynamicHeader(final: Bool, literalLength: [Int], distance: [Int]) {
        header(final: final, type: 2)
        bits(literalLength.count - 257, 5)
        bits(distance.count - 1, 5)
        bits(19 - 4, 4)
        for symbol in Self.precodeOrder { bits(symbol < 16 ? 4 : 0, 3) }
        for length in literalLength + distance { code(length, 4) }
    }

    static func dynamicBlock(literalLength: [Int], distance: [Int]) -> [UInt8] {
        var writer = DeflateBitWriter()
        writer.dynamicHeader(final: true, literalLength: literalLength, distance: distance)
        return writer.bytes
    }

    /// A dynamic block header that stops after a precode of the given lengths (by symbol).
    static func dynamicBlock(precode: [Int], lengths: [Int]) -> [UInt8] {
        var writer = DeflateBitWriter()
        writer.header(final: true, type: 2)
        writer.bits(0, 5)
        writer.bits(0, 5)
        writer.bits(19 - 4, 4)
        for symbol in precodeOrder { writer.bits(precode[symbol], 3) }
        lengths.forEach { writer.code($0, 4) }
        return writer.bytes
    }
}
