import Testing
@testable import QuantCore

@Suite struct ParallelChunksTests {
    @Test func rangesTileTheWholeCountWithoutOverlap() {
        for (count, chunks) in [(10, 3), (7, 7), (1000, 8), (5, 1)] {
            let ranges = (0..<chunks).map { ParallelChunks.range($0, of: chunks, count: count) }
            #expect(ranges.first?.lowerBound == 0)
            #expect(ranges.last?.upperBound == count)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        }
    }

    @Test func smallWorkStaysOnOneChunk() {
        #expect(ParallelChunks.chunkCount(items: 100, unitsPerItem: 10) == 1)
        #expect(ParallelChunks.chunkCount(items: 0, unitsPerItem: 10) == 0)
        #expect(ParallelChunks.chunkCount(items: 4, unitsPerItem: 1 << 20) == 4)
    }

    @Test func forEachVisitsEveryIndexExactlyOnce() {
        var hits = [Int](repeating: 0, count: 100_000)
        hits.withUnsafeMutableBufferPointer { hits in
            ParallelChunks.forEach(count: hits.count, chunks: 7) { _, range in
                for index in range { hits[index] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    @Test func allSatisfyReportsAFailingChunk() {
        #expect(ParallelChunks.allSatisfy(count: 1000, chunks: 8) { _ in true })
        #expect(!ParallelChunks.allSatisfy(count: 1000, chunks: 8) { range in !range.contains(777) })
    }
}
