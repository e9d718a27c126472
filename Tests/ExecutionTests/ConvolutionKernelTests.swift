import Testing
@testable import Execution

/// Direct-definition convolution reference: every output is the sum over its window, read
/// independently of im2col, the depthwise loop and the 1×1 path.
func referenceConvolution(_ x: Tensor, _ w: Tensor, _ bias: [Float]?, strides: [Int], dilations: [Int],
                          padBegin: [Int], padEnd: [Int], groups: Int) -> Tensor {
    let xs = x.floats!, ws = w.floats!
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3]
    let co = w.shape[0], cig = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    let oh = (h + padBegin[0] + padEnd[0] - ((kh - 1) * dilations[0] + 1)) / strides[0] + 1
    let ow = (wd + padBegin[1] + padEnd[1] - ((kw - 1) * dilations[1] + 1)) / strides[1] + 1
    let cog = co / groups
    var out = [Float](repeating: 0, count: n * co * oh * ow)
    for b in 0..<n { for o in 0..<co { for y in 0..<oh { for xo in 0..<ow {
        var sum = bias?[o] ?? 0
        let g = o / cog
        for ci in 0..<cig { for ky in 0..<kh { for kx in 0..<kw {
            let iy = y * strides[0] - padBegin[0] + ky * dilations[0]
            let ix = xo * strides[1] - padBegin[1] + kx * dilations[1]
            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
            sum += xs[((b * c + g * cig + ci) * h + iy) * wd + ix] * ws[((o * cig + ci) * kh + ky) * kw + kx]
        } } }
        out[((b * co + o) * oh + y) * ow + xo] = sum
    } } } }
    return Tensor(shape: [n, co, oh, ow], floats: out)
}

/// Deterministic values that are not symmetric, so transposed or shifted reads show.
func pattern(_ shape: [Int], seed: Int = 1) -> Tensor {
    let count = shape.reduce(1, *)
    return Tensor(shape: shape, floats: (0..<count).map { Float(($0 * 7 + seed * 13) % 23) / 11 - 1 })
}

@Suite struct ConvolutionKernelTests {
    @Test(arguments: [
        // (channels, outChannels, groups, kernel, stride, dilation, pads)
        (3, 4, 1, 3, 1, 1, [1, 1, 1, 1]),
        (3, 4, 1, 3, 2, 1, [0, 1, 2, 0]),
        (4, 6, 2, 3, 1, 2, [2, 2, 2, 2]),
        (4, 4, 4, 3, 1, 1, [1, 1, 1, 1]),
        (4, 4, 4, 3, 2, 1, [1, 0, 1, 0]),
        (6, 12, 6, 3, 1, 1, [0, 0, 0, 0]),
        (5, 3, 1, 1, 1, 1, [0, 0, 0, 0]),
        (5, 3, 1, 1, 2, 1, [0, 0, 0, 0]),
    ])
    func twoDimensionalConvolutionMatchesTheDefinition(_ c: Int, _ co: Int, _ groups: Int, _ k: Int, _ stride: Int,
                                                       _ dilation: Int, _ pads: [Int]) throws {
        let x = pattern([2, c, 7, 6]), w = pattern([co, c / groups, k, k], seed: 3)
        let bias = (0..<co).map { Float($0) * 0.5 - 1 }
        let attributes = Convolution(strides: [stride, stride], dilations: [dilation, dilation], padding: .explicit(pads), groups: groups)
        let y = try GraphBuilding.run(.convolution(attributes), [x, w, floats([co], bias)])
        let expected = referenceConvolution(x, w, bias, strides: [stride, stride], dilations: [dilation, dilation],
                                            padBegin: [pads[0], pads[1]], padEnd: [pads[2], pads[3]], groups: groups)
        #expect(y.shape == expected.shape)
        #expect(close(y.floats!, expected.floats!))
    }

    @Test(arguments: [(3, 64, [2, 3, 20, 40], 3), (4, 1024, [1, 4, 8, 8], 1), (2, 96, [2, 2, 30, 30], 1)])
    func largeOutputsMadeInColumnOrChannelTilesMatchTheDefinition(_ c: Int, _ co: Int, _ shape: [Int], _ k: Int) throws {
        // Enough outputs for several tiles: split by positions, by channels (few positions), both with a bias.
        let x = pattern(shape), w = pattern([co, c, k, k], seed: 3)
        let bias = (0..<co).map { Float($0 % 7) * 0.5 - 1 }
        let pads = [k / 2, k / 2, k / 2, k / 2]
        let y = try GraphBuilding.run(.convolution(Convolution(strides: [1, 1], dilations: [1, 1], padding: .explicit(pads), groups: 1)),
                                      [x, w, floats([co], bias)])
        let expected = referenceConvolution(x, w, bias, strides: [1, 1], dilations: [1, 1], padBegin: [k / 2, k / 2], padEnd: [k / 2, k / 2], groups: 1)
        #expect(y.shape == expected.shape)
        #expect(close(y.floats!, expected.floats!))
    }

    @Test(arguments: [(2, 1), (2, 2), (2, 0), (3, 1), (1, 1)])
    func depthwiseRowsWideEnoughForVectorsMatchTheDefinition(_ stride: Int, _ pad: Int) throws {
        // 21 columns: whole vectors of the row split by stride phase and a partial one, odd and even pads.
        let x = pattern([2, 3, 9, 21]), w = pattern([3, 1, 3, 3], seed: 2)
        let bias: [Float] = [0.5, -1, 0.25]
        let pads = [pad, pad, pad, pad]
        let y = try GraphBuilding.run(.convolution(Convolution(strides: [stride, stride], dilations: [1, 1], padding: .explicit(pads), groups: 3)),
                                      [x, w, floats([3], bias)])
        let expected = referenceConvolution(x, w, bias, strides: [stride, stride], dilations: [1, 1], padBegin: [pad, pad], padEnd: [pad, pad], groups: 3)
        #expect(y.shape == expected.shape)
        #expect(close(y.floats!, expected.floats!))
    }

    @Test func sameUpperPutsTheOddPadAtTheEndAndSameLowerAtTheBeginning() throws {
        let x = pattern([1, 1, 4, 4]), w = pattern([1, 1, 2, 2], seed: 2)
        let upper = try GraphBuilding.run(.convolution(Convolution(strides: [1, 1], dilations: [1, 1], padding: .sameUpper, groups: 1)), [x, w])
        let lower = try GraphBuilding.run(.convolution(Convolution(strides: [1, 1], dilations: [1, 1], padding: .sameLower, groups: 1)), [x, w])
        let one = [1, 1]
        #expect(upper.floats! == referenceConvolution(x, w, nil, strides: one, dilations: one, padBegin: [0, 0], padEnd: [1, 1], groups: 1).floats!)
        #expect(lower.floats! == referenceConvolution(x, w, nil, strides: one, dilations: one, padBegin: [1, 1], padEnd: [0, 0], groups: 1).floats!)
        #expect(upper.shape == [1, 1, 4, 4])
    }

    @Test func oneDimensionalConvolutionSlidesAlongItsOnlyAxis() throws {
        // x = [1 2 3 4], w = [1 0 -1], pad 1: y[i] = x[i-1] - x[i+1].
        let y = try GraphBuilding.run(.convolution(Convolution(strides: [1], dilations: [1], padding: .explicit([1, 1]), groups: 1)),
                                      [floats([1, 1, 4], [1, 2, 3, 4]), floats([1, 1, 3], [1, 0, -1])])
        #expect(y.shape == [1, 1, 4])
        #expect(y.floats! == [-2, -2, -2, 3])
    }

    @Test func aWeightForTheWrongChannelCountIsAShapeMismatch() {
        #expect(throws: ExecutionError.self) {
            try GraphBuilding.run(.convolution(Convolution(strides: [1, 1], dilations: [1, 1], padding: .valid, groups: 1)),
                                  [pattern([1, 3, 4, 4]), pattern([2, 2, 1, 1])])
        }
    }
}
