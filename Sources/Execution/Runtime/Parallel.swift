import Dispatch

/// The executor's own loops on its cores, GEMM blocks included (OpenBLAS runs on the calling thread).
enum Parallel {
    /// Below this many elementary operations a loop runs on the calling thread: handing work to
    /// another core costs more than it saves.
    static let minimumWork = 1 << 15

    static func forChunks(_ count: Int, threads: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, count, max(1, count * max(costPerItem, 1) / minimumWork))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The chunks are disjoint ranges and the call returns only when all are done, so the
            // body's captures are never used concurrently on the same elements.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                body(start..<end)
            }
        }
    }
}
