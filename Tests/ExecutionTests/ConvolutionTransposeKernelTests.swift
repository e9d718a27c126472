import Testing
@testable import Execution

@Suite struct ConvolutionTransposeKernelTests {
    /// Scatter definition: every input element adds weight·x at i·stride − padBegin + tap·dilation.
    private func reference(_ x: Tensor, _ w: Tensor, groups: Int, stride: Int, dilation: Int, padBegin: Int, outputSize: Int) -> [Float] {
        let n = x.shape[0], c = x.shape[1], length = x.shape[2], cog = w.shape[1], k = w.shape[2], cig = c / groups
        var y = [Float](repeating: 0, count: n * cog * groups * outputSize)
        for b in 0..<n { for ci in 0..<c { for i in 0..<length { for co in 0..<cog { for tap in 0..<k {
            let position = i * stride - padBegin + tap * dilation
            guard position >= 0, position < outputSize else { continue }
            let channel = (ci / cig) * cog + co
            y[(b * cog * groups + channel) * outputSize + position] += x.floats![(b * c + ci) * length + i] * w.floats![(ci * cog + co) * k + tap]
        } } } } }
        return y
    }

    @Test func stridedGroupedTransposeMatchesTheScatterDefinition() throws {
        let x = pattern([2, 4, 5]), w = pattern([4, 3, 3], seed: 5)
        let attributes = ConvolutionTranspose(strides: [2], dilations: [2], padding: .explicit([1, 2]), groups: 2,
                                              outputPadding: [1], outputShape: nil)
        let y = try GraphBuilding.run(.convolutionTranspose(attributes), [x, w])
        // 2·(5 − 1) + 1 + (3 − 1)·2 + 1 − 1 − 2 = 11.
        #expect(y.shape == [2, 6, 11])
        #expect(close(y.floats!, reference(x, w, groups: 2, stride: 2, dilation: 2, padBegin: 1, outputSize: 11)))
    }

    @Test func anOutputShapeSetsThePaddingWithTheOddUnitAtTheEndForSameUpper() throws {
        let x = pattern([1, 1, 3]), w = pattern([1, 1, 4], seed: 2)
        // Full output 2·2 + 4 = 8; asked for 6 → 2 cut, 1 at each end.
        let given = ConvolutionTranspose(strides: [2], dilations: [1], padding: .explicit([0, 0]), groups: 1, outputPadding: [], outputShape: [6])
        let y = try GraphBuilding.run(.convolutionTranspose(given), [x, w, floats([1], [0.5])])
        #expect(close(y.floats!, reference(x, w, groups: 1, stride: 2, dilation: 1, padBegin: 1, outputSize: 6).map { $0 + 0.5 }))
        // SAME: output 3·2 = 6 again, but with total 2 even; use stride 3 → 9 of full 10: the odd pad goes at the end.
        let same = ConvolutionTranspose(strides: [3], dilations: [1], padding: .sameUpper, groups: 1, outputPadding: [], outputShape: nil)
        let z = try GraphBuilding.run(.convolutionTranspose(same), [x, w])
        #expect(z.shape == [1, 1, 9])
        #expect(close(z.floats!, reference(x, w, groups: 1, stride: 3, dilation: 1, padBegin: 0, outputSize: 9)))
    }

    @Test func twoDimensionalTransposeOfAOneByOneStrideOneKernelIsAMatrixProduct() throws {
        let x = pattern([1, 2, 2, 2]), w = floats([2, 1, 1, 1], [2, -1])
        let y = try GraphBuilding.run(.convolutionTranspose(ConvolutionTranspose(strides: [1, 1], dilations: [1, 1], padding: .valid, groups: 1,
                                                                                 outputPadding: [], outputShape: nil)), [x, w])
        let xs = x.floats!
        #expect(close(y.floats!, (0..<4).map { 2 * xs[$0] - xs[4 + $0] }))
    }
}
