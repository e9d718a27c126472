/// Items that sort by an unsigned key and fill `weight` consecutive sorted positions each:
/// tensor elements (weight 1) or block norms (weight = elements in the block).
protocol WeightedKeys {
    var itemCount: Int { get }
    /// Keys are below `1 << keyBits`.
    var keyBits: Int { get }
    func key(at item: Int) -> UInt32
    func weight(at item: Int) -> Int
}

/// Order statistics by radix histogram: the key at any sorted position, without sorting.
///
/// Keys of at most 16 bits take one histogram pass; wider keys take a pass over their high
/// bits and a second over the low 16 bits of the items in the buckets that hold the ranks.
enum RankSelection {
    /// The keys at 0-based `ranks` of the items sorted by key, each repeated `weight` times.
    static func keys<Items: WeightedKeys>(atRanks ranks: [Int], of items: Items) -> [UInt32] {
        let highBits = max(items.keyBits - 16, 0)
        let lowBits = items.keyBits - highBits
        if highBits == 0 {
            let histogram = Self.histogram(items, bins: 1 << lowBits, shift: 0, highBucket: nil)
            return ranks.map { rank in UInt32(bucket(holding: rank, in: histogram).bucket) }
        }
        let high = Self.histogram(items, bins: 1 << highBits, shift: 16, highBucket: nil)
        let located = ranks.map { bucket(holding: $0, in: high) }
        var lowHistograms: [Int: [Int]] = [:]
        for bucket in Set(located.map(\.bucket)) {
            lowHistograms[bucket] = Self.histogram(items, bins: 1 << 16, shift: 0, highBucket: UInt32(bucket))
        }
        return located.map { location in
            let low = bucket(holding: location.rankWithin, in: lowHistograms[location.bucket]!).bucket
            return UInt32(location.bucket) << 16 | UInt32(low)
        }
    }

    /// Weighted counts of `key >> shift`, or with `highBucket` of the low 16 bits of the keys
    /// whose high bits equal it.
    private static func histogram<Items: WeightedKeys>(
        _ items: Items, bins: Int, shift: UInt32, highBucket: UInt32?
    ) -> [Int] {
        let count = items.itemCount
        let chunks = ParallelChunks.chunkCount(items: count, unitsPerItem: 1)
        var partial = [Int](repeating: 0, count: bins * max(chunks, 1))
        partial.withUnsafeMutableBufferPointer { partial in
            let base = partial.baseAddress!
            ParallelChunks.forEach(count: count, chunks: chunks) { chunk, range in
                let counts = base + chunk * bins
                if let highBucket {
                    for item in range {
                        let key = items.key(at: item)
                        if key >> 16 == highBucket { counts[Int(key & 0xFFFF)] &+= items.weight(at: item) }
                    }
                } else {
                    for item in range {
                        counts[Int(items.key(at: item) >> shift)] &+= items.weight(at: item)
                    }
                }
            }
        }
        var total = Array(partial[0..<bins])
        for chunk in 1..<max(chunks, 1) {
            for index in 0..<bins { total[index] &+= partial[chunk * bins + index] }
        }
        return total
    }

    /// The bin holding sorted position `rank` and the position within that bin.
    private static func bucket(holding rank: Int, in histogram: [Int]) -> (bucket: Int, rankWithin: Int) {
        var before = 0
        for (bucket, count) in histogram.enumerated() {
            if rank < before + count { return (bucket, rank - before) }
            before += count
        }
        preconditionFailure("rank \(rank) beyond the \(before) sorted positions")
    }
}
