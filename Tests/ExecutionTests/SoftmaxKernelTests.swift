import Foundation
import Testing
@testable import Execution

@Suite struct SoftmaxKernelTests {
    @Test func softmaxOfLargeLogitsDoesNotOverflow() throws {
        let y = try GraphBuilding.run(.softmax(axis: -1), [floats([1, 3], [1000, 1001, 1002])]).floats!
        let e: [Double] = [exp(-2), exp(-1), 1]
        let sum = e.reduce(0, +)
        #expect(close(y, e.map { Float($0 / sum) }, tolerance: 1e-6))
        let log = try GraphBuilding.run(.logSoftmax(axis: 1), [floats([1, 3], [1000, 1001, 1002])]).floats!
        #expect(close(log, e.map { Float(Foundation.log($0 / sum)) }, tolerance: 1e-5))
    }

    @Test func softmaxAlongAnInnerAxisNormalizesEachColumn() throws {
        let y = try GraphBuilding.run(.softmax(axis: 0), [floats([2, 2], [0, 5, 0, 5])]).floats!
        #expect(y == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func attentionMatchesTheFormulaWithABoolMaskAndCausality() throws {
        // One head, 2 queries, 2 keys, head size 1, scale 1.
        let q = floats([1, 2, 1], [1, 2]), k = floats([1, 2, 1], [1, -1]), v = floats([1, 2, 1], [10, 20])
        let plain = try GraphBuilding.run(.scaledDotProductAttention(scale: 1, causal: false), [q, k, v, nil]).floats!
        func mix(_ a: Double, _ b: Double) -> Float { Float((10 * exp(a) + 20 * exp(b)) / (exp(a) + exp(b))) }
        #expect(close(plain, [mix(1, -1), mix(2, -2)], tolerance: 1e-6))
        let causal = try GraphBuilding.run(.scaledDotProductAttention(scale: 1, causal: true), [q, k, v, nil]).floats!
        #expect(close(causal, [10, mix(2, -2)], tolerance: 1e-6))
        let masked = try GraphBuilding.run(.scaledDotProductAttention(scale: nil, causal: false),
                                           [q, k, v, bools([2], [false, true])]).floats!
        #expect(masked == [20, 20])
    }
}
