import Dispatch
import Foundation

/// Splits `0..<count` into contiguous ranges and runs them on all cores.
///
/// Work is cut into a few chunks per core rather than one per item so that dispatch overhead
/// stays negligible and uneven chunks still balance.
enum ParallelChunks {
    /// Below this many units of work a single thread beats the cost of waking others.
    static let minimumUnitsPerChunk = 1 << 16

    /// How many chunks to cut `count` items into when each item costs `unitsPerItem`.
    static func chunkCount(items count: Int, unitsPerItem: Int) -> Int {
        guard count > 1 else { return max(count, 0) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let byWork = (count * max(unitsPerItem, 1)) / minimumUnitsPerChunk
        return max(1, min(count, byWork, cores * 4))
    }

    /// The `index`-th of `chunks` near-equal contiguous ranges of `0..<count`.
    static func range(_ index: Int, of chunks: Int, count: Int) -> Range<Int> {
        (count * index / chunks)..<(count * (index + 1) / chunks)
    }

    /// Runs `body` on each of `chunks` ranges of `0..<count`, in parallel when there are several.
    ///
    /// `body` may capture unsafe pointers: callers write only to memory their chunk owns, which
    /// is what makes handing it to several threads sound.
    static func forEach(count: Int, chunks: Int, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        if chunks <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                body(chunk, range(chunk, of: chunks, count: count))
            }
        }
    }

    /// Runs `body` on each chunk like `forEach` and tells whether every chunk returned true,
    /// for passes that can meet input they must refuse.
    static func allSatisfy(count: Int, chunks: Int, _ body: (_ range: Range<Int>) -> Bool) -> Bool {
        var results = [Bool](repeating: true, count: max(chunks, 1))
        results.withUnsafeMutableBufferPointer { results in
            forEach(count: count, chunks: chunks) { chunk, range in results[chunk] = body(range) }
        }
        return results.allSatisfy { $0 }
    }
}
