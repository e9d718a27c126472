import Testing
@testable import Execution

@Suite struct ShapeKernelsTests {
    @Test func reshapeCopiesZerosAndInfersMinusOne() throws {
        #expect(try GraphBuilding.run(.reshape(allowZero: false), [iota([2, 3, 4]), int64s([2], [0, -1])]).shape == [2, 12])
        #expect(try GraphBuilding.run(.reshape(allowZero: true), [iota([0, 3]), int64s([2], [3, 0])]).shape == [3, 0])
        #expect(throws: ExecutionError.self) { try GraphBuilding.run(.reshape(allowZero: false), [iota([2, 3]), int64s([1], [4])]) }
    }

    @Test func transposeMovesEveryAxis() throws {
        let y = try GraphBuilding.run(.transpose(permutation: [2, 0, 1]), [iota([2, 3, 2])])
        #expect(y.shape == [2, 2, 3])
        // y[k, i, j] = x[i, j, k] = 6i + 2j + k.
        #expect(y.floats! == [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11])
        #expect(try GraphBuilding.run(.transpose(permutation: nil), [iota([2, 3])]).floats! == [0, 3, 1, 4, 2, 5])
    }

    @Test func concatAndSplitAlongANegativeAxis() throws {
        let y = try GraphBuilding.run(.concat(axis: -1), [iota([2, 1]), floats([2, 2], [5, 6, 7, 8])])
        #expect(y.floats! == [0, 5, 6, 1, 7, 8])
        let parts = try GraphBuilding.run(.split(axis: -1, sizes: [1, 2]), [y], outputs: 2)
        #expect(parts[0].floats! == [0, 1])
        #expect(parts[1].floats! == [5, 6, 7, 8])
        let uneven = try GraphBuilding.run(.split(axis: 0, sizes: nil), [iota([5])], outputs: 2)
        #expect(uneven.map { $0.floats! } == [[0, 1, 2], [3, 4]])
    }

    @Test func sliceClampsEndsAndStepsBackwards() throws {
        let x = iota([2, 5])
        let y = try GraphBuilding.run(.slice, [x, int64s([1], [1]), int64s([1], [Int64.max]), int64s([1], [-1]), int64s([1], [2])])
        #expect(y.floats! == [1, 3, 6, 8])
        let reversed = try GraphBuilding.run(.slice, [x, int64s([1], [-1]), int64s([1], [Int64.min]), int64s([1], [1]), int64s([1], [-2])])
        #expect(reversed.floats! == [4, 2, 0, 9, 7, 5])
        let empty = try GraphBuilding.run(.slice, [x, int64s([1], [3]), int64s([1], [1]), int64s([1], [1]), nil])
        #expect(empty.shape == [2, 0])
    }

    @Test func gatherTakesNegativeIndicesFromTheEnd() throws {
        let y = try GraphBuilding.run(.gather(axis: 1), [iota([2, 3]), int64s([2, 1], [-1, 0])])
        #expect(y.shape == [2, 2, 1])
        #expect(y.floats! == [2, 0, 5, 3])
        let elements = try GraphBuilding.run(.gatherElements(axis: 1), [iota([2, 3]), int64s([2, 2], [2, 0, 1, 1])])
        #expect(elements.floats! == [2, 0, 4, 4])
        #expect(throws: ExecutionError.self) { try GraphBuilding.run(.gather(axis: 0), [iota([2]), int64s([1], [2])]) }
    }

    @Test func squeezeUnsqueezeAndFlatten() throws {
        #expect(try GraphBuilding.run(.squeeze(axes: nil), [iota([1, 3, 1])]).shape == [3])
        #expect(try GraphBuilding.run(.squeeze(axes: [-1]), [iota([1, 3, 1])]).shape == [1, 3])
        #expect(try GraphBuilding.run(.unsqueeze(axes: [0, -1]), [iota([3])]).shape == [1, 3, 1])
        #expect(try GraphBuilding.run(.unsqueeze(axes: nil), [iota([3]), int64s([1], [1])]).shape == [3, 1])
        #expect(try GraphBuilding.run(.flatten(axis: 0), [iota([2, 3])]).shape == [1, 6])
        #expect(throws: ExecutionError.self) { try GraphBuilding.run(.squeeze(axes: [1]), [iota([1, 3])]) }
    }

    @Test func expandAndTileRepeatTheInput() throws {
        let y = try GraphBuilding.run(.expand, [floats([2, 1], [1, 2]), int64s([3], [2, 1, 3])])
        #expect(y.shape == [2, 2, 3])
        #expect(y.floats! == [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
        let tiled = try GraphBuilding.run(.tile, [iota([2, 2]), int64s([2], [2, 2])])
        #expect(tiled.floats! == [0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3])
    }

    @Test func padModesAndNegativePads() throws {
        let x = floats([1, 3], [1, 2, 3])
        let pads = int64s([4], [0, 2, 0, 1])
        #expect(try GraphBuilding.run(.pad(.constant), [x, pads, floats([], [9])]).floats! == [9, 9, 1, 2, 3, 9])
        #expect(try GraphBuilding.run(.pad(.reflect), [x, pads]).floats! == [3, 2, 1, 2, 3, 2])
        #expect(try GraphBuilding.run(.pad(.edge), [x, pads]).floats! == [1, 1, 1, 2, 3, 3])
        #expect(try GraphBuilding.run(.pad(.constant), [x, int64s([4], [0, -1, 0, 1]), nil]).floats! == [2, 3, 0])
    }

    @Test func shapeRangeAndConstantOfShapeWorkOnInt64() throws {
        #expect(try GraphBuilding.run(.shape(start: 1, end: -1), [iota([2, 3, 4, 5])]).int64s! == [3, 4])
        #expect(try GraphBuilding.run(.range, [int64s([], [10]), int64s([], [1]), int64s([], [-3])]).int64s! == [10, 7, 4])
        #expect(try GraphBuilding.run(.range, [floats([], [0]), floats([], [1]), floats([], [0.25])]).floats! == [0, 0.25, 0.5, 0.75])
        let filled = try GraphBuilding.run(.constantOfShape(ConstantTensor(shape: [1], elements: .int64([7]))), [int64s([2], [2, 1])])
        #expect(filled == int64s([2, 1], [7, 7]))
    }

    @Test func topKAndCumulativeSum() throws {
        let results = try GraphBuilding.run(.topK(axis: -1, largest: true, sorted: true), [floats([1, 4], [3, 9, 3, 1]), int64s([1], [3])], outputs: 2)
        #expect(results[0].floats! == [9, 3, 3])
        #expect(results[1].int64s! == [1, 0, 2])
        let smallest = try GraphBuilding.run(.topK(axis: 0, largest: false, sorted: true), [floats([3], [3, 1, 2]), int64s([1], [1])], outputs: 2)
        #expect(smallest[1].int64s! == [1])
        let x = floats([4], [1, 2, 3, 4])
        #expect(try GraphBuilding.run(.cumulativeSum(exclusive: false, reverse: false), [x, int64s([], [0])]).floats! == [1, 3, 6, 10])
        #expect(try GraphBuilding.run(.cumulativeSum(exclusive: true, reverse: true), [x, int64s([], [-1])]).floats! == [9, 7, 4, 0])
    }
}
