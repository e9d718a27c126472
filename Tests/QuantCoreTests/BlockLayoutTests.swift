import Testing
@testable import QuantCore

@Suite struct BlockLayoutTests {
    /// (element offset, block index, length) of every run, in order.
    private func runs(_ layout: BlockLayout) -> [[Int]] {
        var runs: [[Int]] = []
        layout.forEachRun(in: 0..<layout.partitionSize) { runs.append([$0, $1, $2]) }
        return runs
    }

    @Test func perChannelAlongAxisZeroIsOneRunPerChannel() throws {
        let layout = try BlockLayout(shape: [3, 2, 2], blockSizes: [1, 0, 0])
        #expect(layout.axes.map(\.kind) == [.across, .within])
        #expect(layout.blockCount == 3)
        #expect(layout.scaleShape == [3, 1, 1])
        #expect(!layout.partitionsShareBlocks)
        #expect(runs(layout) == [[0, 0, 4], [4, 1, 4], [8, 2, 4]])
    }

    @Test func perChannelAlongLastAxisRunsAcrossBlocks() throws {
        let layout = try BlockLayout(shape: [2, 3], blockSizes: [0, 1])
        #expect(layout.axes.map(\.kind) == [.within, .across])
        #expect(layout.scaleShape == [1, 3])
        #expect(layout.partitionsShareBlocks)
        #expect(runs(layout) == [[0, 0, 3], [3, 0, 3]])
    }

    @Test func perTensorIsOneRun() throws {
        let layout = try BlockLayout(shape: [4, 5], blockSizes: [0, 0])
        #expect(layout.axes.count == 1)
        #expect(layout.blockCount == 1)
        #expect(layout.partitionSize == 20)
        var pieces: [[Int]] = []
        layout.forEachRun(in: 5..<12) { pieces.append([$0, $1, $2]) }
        #expect(pieces == [[5, 0, 7]])
    }

    @Test func blocksOnSeveralAxesNumberScalesRowMajor() throws {
        // [4, 6] in 2×3 blocks: scale shape [2, 2]; the odometer covers the middle axes.
        let layout = try BlockLayout(shape: [4, 6], blockSizes: [2, 3])
        #expect(layout.scaleShape == [2, 2])
        var blockOf = [Int](repeating: -1, count: 24)
        layout.forEachRun(in: 0..<layout.partitionSize) { offset, block, length in
            for index in offset..<(offset + length) {
                blockOf[index] = layout.run.kind == .within ? block : block + index - offset
            }
        }
        let expected = (0..<24).map { index in (index / 6) / 2 * 2 + (index % 6) / 3 }
        #expect(blockOf == expected)
    }

    @Test func conv3x3BlocksAlongInputChannelsStayContiguous() throws {
        let layout = try BlockLayout(shape: [8, 64, 3, 3], blockSizes: [1, 32, 0, 0])
        #expect(layout.axes.map(\.size) == [16, 288])
        #expect(layout.scaleShape == [8, 2, 1, 1])
    }

    @Test func rejectsBlockSizesThatDoNotDivide() {
        #expect(throws: QuantCoreError.blockSizeDoesNotDivide(axis: 1, dimension: 10, blockSize: 4)) {
            try BlockLayout(shape: [2, 10], blockSizes: [1, 4])
        }
        #expect(throws: QuantCoreError.blockSizeRankMismatch(blockSizes: 1, rank: 2)) {
            try BlockLayout(shape: [2, 10], blockSizes: [1])
        }
    }
}
