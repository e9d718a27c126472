import Testing
@testable import Compression

@Suite struct ParallelWeightsTests {
    @Test func resultsKeepWeightOrderAndEveryStepRunsOnce() throws {
        var finished: [Int] = []
        let results = try ParallelWeights.map(sizes: [3, 9, 1, 7, 5], isCancelled: { false }, finished: { finished.append($0) }) { $0 * 10 }
        #expect(results == [0, 10, 20, 30, 40])
        #expect(finished.sorted() == [0, 1, 2, 3, 4])
    }

    struct Failure: Error, Equatable { let index: Int }

    @Test func aFailureIsThrownAndStopsNewSteps() {
        #expect(throws: Failure.self) {
            try ParallelWeights.map(sizes: Array(repeating: 1, count: 50), isCancelled: { false }, finished: { _ in }) { index -> Int in
                if index == 3 { throw Failure(index: index) }
                return index
            }
        }
    }

    @Test func cancellationBeforeTheStartIsACancellationError() {
        #expect(throws: CancellationError.self) {
            try ParallelWeights.map(sizes: [1, 2], isCancelled: { true }, finished: { _ in }) { $0 }
        }
    }
}
