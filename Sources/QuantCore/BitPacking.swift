/// Packs small unsigned codes LSB-first into bytes, as Core ML's blob format and coremltools'
/// `pack_elements_into_bits` do: element 0 occupies the lowest `bits` bits of byte 0, and an
/// element may straddle two bytes (3- and 6-bit codes).
///
/// Size: `ceil(count × bits / 8)` bytes.
public enum BitPacking {
    public static func packedByteCount(count: Int, bits: Int) -> Int {
        (count * bits + 7) / 8
    }

    public static func pack(_ codes: UnsafeBufferPointer<UInt8>, bits: Int) -> [UInt8] {
        precondition((1...8).contains(bits), "bits must be 1…8")
        if bits == 8 { return Array(codes) }
        if bits == 4 { return packNibbles(codes) }
        return packOctets(codes, bits: bits)
    }

    /// Any other width eight codes at a time: eight `bits`-bit codes fill exactly `bits`
    /// bytes, so each group is built in one 64-bit word, independently, in parallel chunks.
    private static func packOctets(_ codes: UnsafeBufferPointer<UInt8>, bits: Int) -> [UInt8] {
        let groups = codes.count / 8
        let count = packedByteCount(count: codes.count, bits: bits)
        let mask = UInt64((1 << bits) - 1)
        func word(_ start: Int, _ codeCount: Int) -> UInt64 {
            var word: UInt64 = 0
            for i in 0..<codeCount { word |= (UInt64(codes[start &+ i]) & mask) &<< UInt64(i &* bits) }
            return word
        }
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            let base = out.baseAddress!
            func store(_ word: UInt64, at offset: Int, bytes: Int) {
                for byte in 0..<bytes { base[offset &+ byte] = UInt8(truncatingIfNeeded: word &>> UInt64(byte &* 8)) }
            }
            let chunks = ParallelChunks.chunkCount(items: groups, unitsPerItem: 8)
            ParallelChunks.forEach(count: groups, chunks: chunks) { _, range in
                for group in range { store(word(group &* 8, 8), at: group &* bits, bytes: bits) }
            }
            store(word(groups * 8, codes.count - groups * 8), at: groups * bits, bytes: count - groups * bits)
            initialized = count
        }
    }

    /// The common 4-bit case: whole bytes from pairs, no straddling, in parallel chunks.
    private static func packNibbles(_ codes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let pairs = codes.count / 2
        let count = packedByteCount(count: codes.count, bits: 4)
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            let base = out.baseAddress!
            let chunks = ParallelChunks.chunkCount(items: pairs, unitsPerItem: 2)
            ParallelChunks.forEach(count: pairs, chunks: chunks) { _, range in
                for i in range {
                    base[i] = (codes[2 &* i] & 0x0F) | (codes[2 &* i &+ 1] &<< 4)
                }
            }
            if count > pairs { base[pairs] = codes[codes.count - 1] & 0x0F }
            initialized = count
        }
    }

    public static func pack(_ codes: [UInt8], bits: Int) -> [UInt8] {
        codes.withUnsafeBufferPointer { pack($0, bits: bits) }
    }

    public static func unpack(_ packed: UnsafeRawBufferPointer, count: Int, bits: Int) -> [UInt8] {
        precondition((1...8).contains(bits), "bits must be 1…8")
        if bits == 8 { return Array(packed.prefix(count)) }
        let mask = UInt32((1 << bits) - 1)
        return (0..<count).map { i in
            let bitOffset = i * bits
            let byte = bitOffset >> 3, shift = bitOffset & 7
            var word = UInt32(packed[byte])
            if byte + 1 < packed.count { word |= UInt32(packed[byte + 1]) << 8 }
            return UInt8((word >> shift) & mask)
        }
    }
}
