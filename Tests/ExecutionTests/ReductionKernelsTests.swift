import Testing
@testable import Execution

@Suite struct ReductionKernelsTests {
    private func reduce(_ function: ReduceFunction, _ x: Tensor, _ axes: [Int]?, keep: Bool = false, noop: Bool = false) throws -> Tensor {
        try GraphBuilding.run(.reduce(function, axes: axes, keepDimensions: keep, noopWithEmptyAxes: noop), [x])
    }

    @Test func reducesOverNegativeAndNonAdjacentAxes() throws {
        let x = iota([2, 3, 2])
        let y = try reduce(.sum, x, [0, -1])
        #expect(y.shape == [3])
        #expect(y.floats! == [14, 22, 30])
        let kept = try reduce(.max, x, [1], keep: true)
        #expect(kept.shape == [2, 1, 2])
        #expect(kept.floats! == [4, 5, 10, 11])
    }

    @Test func noAxesReducesEverythingUnlessNoopIsAsked() throws {
        let x = floats([2, 2], [1, -2, 3, -4])
        #expect(try reduce(.l1, x, nil).floats! == [10])
        #expect(try reduce(.mean, x, nil, keep: true).shape == [1, 1])
        #expect(try reduce(.sum, x, [], noop: true) == x)
    }

    @Test func everyFunctionComputesItsOwnFormula() throws {
        let x = floats([3], [1, 2, 2])
        #expect(try reduce(.product, x, [0]).floats! == [4])
        #expect(try reduce(.sumSquare, x, [0]).floats! == [9])
        #expect(try reduce(.l2, x, [0]).floats! == [3])
        #expect(try reduce(.min, x, [0]).floats! == [1])
        let large = try reduce(.logSumExp, floats([2], [1000, 1000]), [0]).floats![0]
        #expect(Swift.abs(large - 1000.6931) < 1e-3)
        #expect(try reduce(.product, int64s([3], [2, 3, 4]), [0]).int64s! == [24])
    }

    @Test func argMaxTakesTheFirstOrLastOfEqualValues() throws {
        let x = floats([2, 3], [1, 5, 5, 7, 0, 7])
        #expect(try GraphBuilding.run(.argReduce(.max, axis: -1, keepDimensions: false, selectLastIndex: false), [x]).int64s! == [1, 0])
        #expect(try GraphBuilding.run(.argReduce(.max, axis: 1, keepDimensions: true, selectLastIndex: true), [x]).int64s! == [2, 2])
        #expect(try GraphBuilding.run(.argReduce(.min, axis: 0, keepDimensions: false, selectLastIndex: false), [x]).int64s! == [0, 1, 0])
    }
}
