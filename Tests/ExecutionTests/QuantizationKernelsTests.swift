import Testing
@testable import Execution

@Suite struct QuantizationKernelsTests {
    @Test func quantizeRoundsTiesToEvenAndSaturates() throws {
        let y = try GraphBuilding.run(.quantizeLinear(axis: 1, blockSize: nil, range: 0...255),
                                      [floats([6], [0.5, 1.5, 2.5, -3, 300, 127.5]), floats([], [1]), int64s([], [1])])
        // 0.5→0, 1.5→2, 2.5→2 (ties to even) then +1; −3+1 saturates at 0; 300 at 255; 127.5→128.
        #expect(y.int64s! == [1, 3, 3, 0, 255, 129])
        let signed = try GraphBuilding.run(.quantizeLinear(axis: 0, blockSize: nil, range: -128...127),
                                           [floats([3], [-1000, -0.25, 0.75]), floats([], [0.5]), nil])
        #expect(signed.int64s! == [-128, 0, 2])
    }

    @Test func dequantizePerAxisUsesEachChannelsScaleAndZeroPoint() throws {
        let y = try GraphBuilding.run(.dequantizeLinear(axis: -1, blockSize: nil),
                                      [int64s([2, 2], [10, 10, 20, 20]), floats([2], [0.5, 2]), int64s([2], [10, 5])])
        #expect(y.floats! == [0, 10, 5, 30])
    }

    @Test func dequantizeInBlocksGivesEachBlockItsScale() throws {
        // [1, 5] along axis 1 in blocks of 2: scales for {0,1}, {2,3}, {4}.
        let y = try GraphBuilding.run(.dequantizeLinear(axis: 1, blockSize: 2),
                                      [floats([1, 5], [1, 1, 1, 1, 1]), floats([1, 3], [1, 2, 3]), nil])
        #expect(y.floats! == [1, 1, 2, 2, 3])
        let columns = try GraphBuilding.run(.dequantizeLinear(axis: 0, blockSize: 2),
                                            [floats([4, 2], [1, 1, 1, 1, 1, 1, 1, 1]), floats([2, 2], [1, 2, 3, 4]), nil])
        #expect(columns.floats! == [1, 2, 1, 2, 3, 4, 3, 4])
    }

    @Test func wrongScaleCountsAreShapeMismatches() {
        #expect(throws: ExecutionError.self) {
            try GraphBuilding.run(.dequantizeLinear(axis: 0, blockSize: nil), [floats([3], [1, 2, 3]), floats([2], [1, 1]), nil])
        }
    }

    @Test func matMulNBitsUnpacksLowNibbleFirstWithPackedZeroPoints() throws {
        // N = 2, K = 4, block 2 → 2 blocks per row, blob 1 byte. Codes row 0: 1 2 | 3 4; row 1: 15 0 | 8 8.
        let packed = int64s([2, 2, 1], [0x21, 0x43, 0x0F, 0x88])
        let scales = floats([4], [1, 2, 0.5, 1])
        // Zero points: row 0 blocks (1, 3) → byte 0x31; row 1 blocks (8, 0) → 0x08.
        let zeros = int64s([2], [0x31, 0x08])
        let weight = try GraphBuilding.run(.matMulNBits(k: 4, n: 2, bits: 4, blockSize: 2),
                                           [floats([4, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), packed, scales, zeros])
        // W row 0: (1−1)·1, (2−1)·1, (3−3)·2, (4−3)·2 = 0 1 0 2; row 1: (15−8)/2, (0−8)/2, 8, 8 = 3.5 −4 8 8.
        // Identity · Wᵀ lays W's columns out as rows.
        #expect(weight.shape == [4, 2])
        #expect(weight.floats! == [0, 3.5, 1, -4, 0, 8, 2, 8])
        let defaultZero = try GraphBuilding.run(.matMulNBits(k: 2, n: 1, bits: 8, blockSize: 2),
                                                [floats([1, 2], [1, 1]), int64s([1, 1, 2], [130, 120]), floats([1], [0.25]), nil])
        // 8 bits: zero point 128 → (2 − 8)·0.25.
        #expect(defaultZero.floats! == [-1.5])
    }
}
