import Testing
@testable import Execution

/// Plain triple-loop product of row-major matrices.
func referenceProduct(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
    return c
}

func transposed(_ x: [Float], rows: Int, columns: Int) -> [Float] {
    (0..<(rows * columns)).map { x[($0 % rows) * columns + $0 / rows] }
}

@Suite struct MatMulKernelTests {
    @Test(arguments: [(40, 700, 30, false, false), (700, 40, 30, false, false), (40, 700, 30, true, true), (700, 40, 30, true, true)])
    func aLargeProductSplitIntoBlocksOverThreadsMatchesTheDefinition(_ m: Int, _ n: Int, _ k: Int, _ transposeA: Bool, _ transposeB: Bool) throws {
        // Above GEMM.smallProduct, so its column blocks (n ≥ m) or row blocks are spread over the threads.
        let a = pattern(transposeA ? [k, m] : [m, k]), b = pattern(transposeB ? [n, k] : [k, n], seed: 5)
        let y = try GraphBuilding.run(.matMul(transposeA: transposeA, transposeB: transposeB), [a, b])
        let av = transposeA ? transposed(a.floats!, rows: k, columns: m) : a.floats!
        let bv = transposeB ? transposed(b.floats!, rows: n, columns: k) : b.floats!
        #expect(y.shape == [m, n])
        #expect(close(y.floats!, referenceProduct(av, bv, m: m, k: k, n: n)))
    }

    @Test func batchedMatMulBroadcastsBatchAxes() throws {
        let a = pattern([2, 1, 3, 4]), b = pattern([3, 4, 5], seed: 4)
        let y = try GraphBuilding.run(.matMul(transposeA: false, transposeB: false), [a, b])
        #expect(y.shape == [2, 3, 3, 5])
        let av = a.floats!, bv = b.floats!
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<3 {
            expected += referenceProduct(Array(av[(i * 12)..<(i * 12 + 12)]), Array(bv[(j * 20)..<(j * 20 + 20)]), m: 3, k: 4, n: 5)
        } }
        #expect(close(y.floats!, expected))
    }

    @Test func transposeFlagsSwapTheLastTwoAxes() throws {
        let a = pattern([2, 4, 3]), b = pattern([2, 5, 4], seed: 2)
        let y = try GraphBuilding.run(.matMul(transposeA: true, transposeB: true), [a, b])
        #expect(y.shape == [2, 3, 5])
        let av = a.floats!, bv = b.floats!
        var expected: [Float] = []
        for i in 0..<2 {
            expected += referenceProduct(transposed(Array(av[(i * 12)..<(i * 12 + 12)]), rows: 4, columns: 3),
                                         transposed(Array(bv[(i * 20)..<(i * 20 + 20)]), rows: 5, columns: 4), m: 3, k: 4, n: 5)
        }
        #expect(close(y.floats!, expected))
    }

    @Test func rankOneOperandsArePromotedAndTheAddedAxisRemoved() throws {
        let v = try GraphBuilding.run(.matMul(transposeA: false, transposeB: false), [floats([2], [1, 2]), iota([2, 3])])
        #expect(v.shape == [3])
        #expect(v.floats! == [6, 9, 12])
        let w = try GraphBuilding.run(.matMul(transposeA: false, transposeB: false), [iota([2, 3]), floats([3], [1, 0, -1])])
        #expect(w.shape == [2])
        #expect(w.floats! == [-2, -2])
        let dot = try GraphBuilding.run(.matMul(transposeA: false, transposeB: false), [floats([2], [1, 2]), floats([2], [3, 4])])
        #expect(dot.shape == [])
        #expect(dot.floats! == [11])
    }

    @Test func mismatchedInnerDimensionsAreAShapeMismatch() {
        #expect(throws: ExecutionError.self) { try GraphBuilding.run(.matMul(transposeA: false, transposeB: false), [iota([2, 3]), iota([2, 3])]) }
    }

    @Test func gemmScalesAndAddsABroadcastC() throws {
        // a = [[0 1] [2 3]], b = I, alpha 2, beta 0.5, c = [10 20] per row.
        let y = try GraphBuilding.run(.gemm(transposeA: true, transposeB: false, alpha: 2, beta: 0.5),
                                      [iota([2, 2]), floats([2, 2], [1, 0, 0, 1]), floats([2], [10, 20])])
        // aᵀ = [[0 2] [1 3]].
        #expect(y.floats! == [5, 14, 7, 16])
    }

    @Test func linearMultipliesByTheWeightsTransposeAndAddsTheBias() throws {
        let y = try GraphBuilding.run(.linear, [iota([2, 1, 3]), floats([2, 3], [1, 0, 0, 1, 1, 1]), floats([2], [0.5, -1])])
        #expect(y.shape == [2, 1, 2])
        #expect(y.floats! == [0.5, 2, 3.5, 11])
    }
}
