import Testing
@testable import Execution

@Suite struct AgreementAccumulatorTests {
    @Test func top1AndTop5CountSamplesThatKeepTheReferenceClass() {
        var agreement = AgreementAccumulator(kind: .classifier(classes: 6))
        let reference: [Float] = [
            0, 9, 1, 2, 3, 4,   // class 1
            5, 0, 0, 0, 0, 0,   // class 0
            0, 0, 0, 0, 0, 7,   // class 5
        ]
        let candidate: [Float] = [
            0, 9, 1, 2, 3, 4,   // keeps class 1
            0, 1, 2, 3, 4, 5,   // class 0 is last of six: outside the top 5
            0, 0, 0, 0, 8, 7,   // class 5 second: top-5 only
        ]
        agreement.add(reference: reference, candidate: candidate, samples: 3)
        #expect(agreement.top1Agreement == 1.0 / 3)
        #expect(agreement.top5Agreement == 2.0 / 3)
        #expect(agreement.meanCosine == nil)
    }

    @Test func tiesGoToTheLowerIndexAsNumpysStableArgsort() {
        #expect(AgreementAccumulator.topIndices([1, 3, 3, 2], 3) == [1, 2, 3])
        #expect(AgreementAccumulator.topIndices([.nan, 0, -1], 2) == [1, 2])
    }

    @Test func embeddingsAverageTheCosineOfEachVector() throws {
        var agreement = AgreementAccumulator(kind: .embedding(dimension: 2))
        // Two tokens: one identical (1), one at right angles (0).
        agreement.add(reference: [1, 0, 0, 1], candidate: [2, 0, 1, 0], samples: 1)
        #expect(abs(try #require(agreement.meanCosine) - 0.5) < 1e-12)
        #expect(agreement.top1Agreement == nil)
    }
}
