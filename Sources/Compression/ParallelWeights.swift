import Foundation
import Synchronization

/// Runs a per-weight step over a model's weights on all cores, one weight per core at a time:
/// each weight's kernels are parallel too, but a model of many small weights (ResNet's 54)
/// would leave cores idle between and inside them. Weights are taken in `EncodeOrder`.
public enum ParallelWeights {
    /// `step(i)` for every weight, results in weight order. `sizes[i]` is weight i's cost;
    /// `allInMemory` says whether every weight's bytes can be read now (else file order).
    /// `finished(i)` runs under a lock after each step, so it need not be thread-safe; nor need
    /// `isCancelled`. The first failure (in weight order) is thrown once running steps end;
    /// no new step starts after one fails or the job is cancelled (`CancellationError`).
    public static func map<T>(sizes: [Int], allInMemory: () -> Bool = { true }, isCancelled: () -> Bool,
                              finished: (Int) -> Void, _ step: (Int) throws -> T) throws -> [T] {
        let slots = UnsafeMutableBufferPointer<Result<T, any Error>?>.allocate(capacity: sizes.count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        let state = Mutex((order: EncodeOrder(sizes: sizes), failed: false))
        nonisolated(unsafe) let (output, cancelled, done, inMemory, run) = (slots, isCancelled, finished, allInMemory, step)
        DispatchQueue.concurrentPerform(iterations: min(ProcessInfo.processInfo.activeProcessorCount, max(1, sizes.count))) { _ in
            while true {
                let ready = inMemory()
                let index: Int? = state.withLock { s in
                    guard !s.failed, !cancelled() else { return nil }
                    return s.order.next(allInMemory: ready)
                }
                guard let index else { return }
                let result = Result { try run(index) }
                output[index] = result
                state.withLock { s in
                    if case .failure = result { s.failed = true }
                    done(index)
                }
            }
        }
        for slot in slots {
            if case .failure(let error)? = slot { throw error }
        }
        return try slots.map { slot in
            guard let slot else { throw CancellationError() }
            return try slot.get()
        }
    }
}
