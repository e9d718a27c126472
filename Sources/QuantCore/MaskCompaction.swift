/// Decides per element (row-major index) whether it survives pruning.
protocol KeepRule {
    func isKept(_ index: Int) -> Bool
}

/// Turns a keep rule into coremltools' sparse layout: an LSB-first bit mask (bit i of the
/// mask = element i kept) and the kept elements' bytes in row-major order.
///
/// Two parallel passes over the same byte-aligned chunks: the first builds mask bytes and
/// counts kept elements per chunk, the second copies each chunk's elements to its offset.
enum MaskCompaction {
    struct Mask {
        var bytes: [UInt8]
        /// Kept elements in each chunk of mask bytes, to place the chunks' values.
        var chunkCounts: [Int]
        var nonZeroCount: Int { chunkCounts.reduce(0, +) }
    }

    static func mask<Rule: KeepRule>(count: Int, rule: Rule) -> Mask {
        let byteCount = (count + 7) / 8
        let chunks = chunkCount(bytes: byteCount)
        var counts = [Int](repeating: 0, count: max(chunks, 1))
        let bytes = [UInt8](unsafeUninitializedCapacity: byteCount) { bytes, initialized in
            let out = bytes.baseAddress!
            counts.withUnsafeMutableBufferPointer { counts in
                ParallelChunks.forEach(count: byteCount, chunks: chunks) { chunk, range in
                    var kept = 0
                    for byte in range {
                        let first = byte &* 8
                        var bits: UInt8 = 0
                        if first &+ 8 <= count {
                            for bit in 0..<8 where rule.isKept(first &+ bit) { bits |= 1 << bit }
                        } else {
                            for bit in 0..<(count &- first) where rule.isKept(first &+ bit) { bits |= 1 << bit }
                        }
                        out[byte] = bits
                        kept &+= bits.nonzeroBitCount
                    }
                    counts[chunk] = kept
                }
            }
            initialized = byteCount
        }
        return Mask(bytes: bytes, chunkCounts: counts)
    }

    /// The bytes of the elements `mask` keeps, each `width` bytes wide, in row-major order.
    static func gather(_ source: UnsafeRawBufferPointer, width: Int, mask: Mask) -> [UInt8] {
        switch width {
        case 1: gather(source, mask: mask, as: UInt8.self)
        case 2: gather(source, mask: mask, as: UInt16.self)
        case 4: gather(source, mask: mask, as: UInt32.self)
        default: gather(source, mask: mask, as: UInt64.self)
        }
    }

    private static func gather<Element: FixedWidthInteger>(
        _ source: UnsafeRawBufferPointer, mask: Mask, as _: Element.Type
    ) -> [UInt8] {
        let width = MemoryLayout<Element>.size
        let total = mask.nonZeroCount
        var offsets = [Int](repeating: 0, count: mask.chunkCounts.count)
        for chunk in 1..<max(offsets.count, 1) { offsets[chunk] = offsets[chunk - 1] + mask.chunkCounts[chunk - 1] }
        return [UInt8](unsafeUninitializedCapacity: total * width) { values, initialized in
            guard total > 0, let input = source.baseAddress, let output = UnsafeMutableRawPointer(values.baseAddress) else {
                initialized = 0
                return
            }
            mask.bytes.withUnsafeBufferPointer { bits in
                ParallelChunks.forEach(count: bits.count, chunks: offsets.count) { chunk, range in
                    var position = offsets[chunk] &* width
                    for byte in range {
                        var pending = bits[byte]
                        while pending != 0 {
                            let index = byte &* 8 &+ pending.trailingZeroBitCount
                            let element = input.loadUnaligned(fromByteOffset: index &* width, as: Element.self)
                            (output + position).storeBytes(of: element, as: Element.self)
                            position &+= width
                            pending &= pending &- 1
                        }
                    }
                }
            }
            initialized = total * width
        }
    }

    private static func chunkCount(bytes: Int) -> Int {
        ParallelChunks.chunkCount(items: bytes, unitsPerItem: 8)
    }
}
