import Foundation

extension QuantizationErrorMetrics {
    /// Compares F16 or BF16 weights with a one-LUT scalar palettization of them (no
    /// per-channel scale); nil for any other form, which callers measure densely.
    ///
    /// Every element with the same bit pattern is reconstructed the same, so one pass counts
    /// the patterns and notes each one's LUT entry, and the sums then run over the at most
    /// 65536 patterns: cheaper than dequantizing the tensor and comparing element by element.
    public init?(original bytes: UnsafeRawBufferPointer, type: ScalarType, palettized p: PalettizedTensor) {
        guard type == .float16 || type == .bfloat16, p.layout.groupCount == 1, p.clusterDim == 1,
              p.perChannelScale == nil, !p.indices.isEmpty, bytes.count == 2 * p.indices.count else { return nil }
        let count = p.indices.count
        let bins = 1 << 16
        // One private histogram per core, not per chunk: zeroing and merging them is the cost.
        let chunks = min(ParallelChunks.chunkCount(items: count, unitsPerItem: 1), ProcessInfo.processInfo.activeProcessorCount)
        let copies = max(chunks, 1)
        // Per chunk: how often each pattern occurs, and the entry its elements take.
        var counts = [UInt32](repeating: 0, count: bins * copies)
        var entries = [UInt8](repeating: 0, count: bins * copies)
        counts.withUnsafeMutableBufferPointer { counts in
            entries.withUnsafeMutableBufferPointer { entries in
                p.indices.withUnsafeBufferPointer { indices in
                    nonisolated(unsafe) let (counts, entries) = (counts, entries)
                    ParallelChunks.forEach(count: count, chunks: chunks) { chunk, range in
                        let histogram = counts.baseAddress! + chunk * bins
                        let entry = entries.baseAddress! + chunk * bins
                        for index in range {
                            let pattern = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))
                            histogram[pattern] &+= 1
                            entry[pattern] = indices[index]
                        }
                    }
                }
                for copy in 1..<copies {
                    for bin in 0..<bins where counts[copy * bins + bin] != 0 {
                        counts[bin] &+= counts[copy * bins + bin]
                        entries[bin] = entries[copy * bins + bin]
                    }
                }
            }
        }
        var partial = Partial()
        for pattern in 0..<bins where counts[pattern] != 0 {
            let occurrences = Int(counts[pattern])
            let c = Double(occurrences)
            let w = Double(FloatConversion.float(bits: UInt16(pattern), of: type))
            let r = Double(p.lut[Int(entries[pattern])])
            let e = w - r
            partial.signal += c * w * w
            partial.noise += c * e * e
            partial.dot += c * w * r
            partial.reconstructed += c * r * r
            partial.maxError = max(partial.maxError, abs(e))
            partial.zeros += r == 0 ? occurrences : 0
        }
        self.init(partial, count: count)
    }
}
