import Foundation
import Testing
@testable import Execution

@Suite struct ErrorAccumulatorTests {
    @Test func snrIsSignalOverNoiseInDecibels() throws {
        var error = ErrorAccumulator()
        // Signal energy 1+4+9+16 = 30; noise 0.1² × 4 = 0.04.
        error.add(reference: [1, 2, 3, 4], candidate: [1.1, 1.9, 3.1, 3.9])
        #expect(abs(try #require(error.snrDecibels) - 10 * log10(30 / 0.04)) < 1e-4)
        #expect(abs(error.maxAbsoluteError - 0.1) < 1e-5)
    }

    @Test func sumsAccumulateAcrossCalls() throws {
        var split = ErrorAccumulator()
        split.add(reference: [1, 2], candidate: [1, 3])
        split.add(reference: [3], candidate: [2])
        var whole = ErrorAccumulator()
        whole.add(reference: [1, 2, 3], candidate: [1, 3, 2])
        #expect(split.snrDecibels == whole.snrDecibels)
        #expect(split.cosine == whole.cosine)
        #expect(split.elementCount == 3)
    }

    @Test func identicalTensorsHaveNoSNRAndCosineOne() {
        var error = ErrorAccumulator()
        error.add(reference: [1, -2, 3], candidate: [1, -2, 3])
        #expect(error.snrDecibels == nil)
        #expect(error.cosine == 1)
        #expect(error.maxAbsoluteError == 0)
    }

    @Test func oppositeDirectionsHaveCosineMinusOne() throws {
        var error = ErrorAccumulator()
        error.add(reference: [1, 2], candidate: [-1, -2])
        #expect(abs(try #require(error.cosine) + 1) < 1e-12)
    }

    @Test func aNaNInTheCandidateIsNotHidden() {
        var error = ErrorAccumulator()
        error.add(reference: [1, 2], candidate: [1, .nan])
        #expect(error.maxAbsoluteError.isNaN)
        #expect(error.snrDecibels?.isNaN == true)
    }
}
