import Testing
@testable import Execution

@Suite struct PoolingKernelsTests {
    private func pool(_ kind: PoolKind, _ x: Tensor, kernel: [Int], strides: [Int], dilations: [Int] = [], padding: Padding,
                      ceil: Bool = false, includePadding: Bool = false) throws -> Tensor {
        try GraphBuilding.run(.pool(Pooling(kind: kind, kernel: kernel, strides: strides, dilations: dilations, padding: padding,
                                            ceilMode: ceil, countIncludesPadding: includePadding)), [x])
    }

    @Test func ceilModeAddsAWindowThatStartsInsideTheInput() throws {
        // 1-d x = 0…4, kernel 2, stride 2: floor gives [1, 3]; ceil adds the window {4}.
        let x = iota([1, 1, 5])
        #expect(try pool(.max, x, kernel: [2], strides: [2], padding: .valid).floats! == [1, 3])
        #expect(try pool(.max, x, kernel: [2], strides: [2], padding: .valid, ceil: true).floats! == [1, 3, 4])
        #expect(try pool(.average, x, kernel: [2], strides: [2], padding: .valid, ceil: true).floats! == [0.5, 2.5, 4])
        // x = 0…3, kernel 2, stride 2, pad 1 at both ends: windows {pad,0}, {1,2}, {3,pad}; ceil
        // would add one starting in the end padding, which is dropped.
        #expect(try pool(.max, iota([1, 1, 4]), kernel: [2], strides: [2], padding: .explicit([1, 1]), ceil: true).floats! == [0, 2, 3])
    }

    @Test func averageCountsPaddingOnlyWhenAsked() throws {
        // x = [1 2 3], kernel 3, pad 1: windows {p,1,2}, {1,2,3}, {2,3,p}.
        let x = floats([1, 1, 3], [1, 2, 3])
        #expect(try pool(.average, x, kernel: [3], strides: [1], padding: .explicit([1, 1])).floats! == [1.5, 2, 2.5])
        #expect(try pool(.average, x, kernel: [3], strides: [1], padding: .explicit([1, 1]), includePadding: true).floats! == [1, 2, 5.0 / 3])
    }

    @Test func dilatedWindowsSkipPositions() throws {
        // 2-d 4×4, kernel 2×2 dilated by 2: each window is x[i,j], x[i,j+2], x[i+2,j], x[i+2,j+2].
        let y = try pool(.max, iota([1, 1, 4, 4]), kernel: [2, 2], strides: [1, 1], dilations: [2, 2], padding: .valid)
        #expect(y.shape == [1, 1, 2, 2])
        #expect(y.floats! == [10, 11, 14, 15])
    }

    @Test func sameUpperKeepsCeilOfInputOverStride() throws {
        // 5 wide, kernel 2, stride 2: out 3, total pad 1, at the end.
        let y = try pool(.max, floats([1, 1, 5], [5, 1, 2, 7, 3]), kernel: [2], strides: [2], padding: .sameUpper)
        #expect(y.floats! == [5, 7, 3])
        let lower = try pool(.max, floats([1, 1, 5], [5, 1, 2, 7, 3]), kernel: [2], strides: [2], padding: .sameLower)
        #expect(lower.floats! == [5, 2, 7])
    }

    @Test func globalPoolingKeepsSpatialAxesAsOnes() throws {
        let x = iota([2, 2, 2, 2])
        let average = try GraphBuilding.run(.globalPool(.average), [x])
        #expect(average.shape == [2, 2, 1, 1])
        #expect(average.floats! == [1.5, 5.5, 9.5, 13.5])
        #expect(try GraphBuilding.run(.globalPool(.max), [x]).floats! == [3, 7, 11, 15])
    }
}
