import Testing
@testable import ModelFormats

@Suite struct ONNXScaleLayoutTests {
    @Test func oneBlockIsPerTensor() throws {
        let layout = try ONNXScaleLayout(shape: [4, 3], blockCounts: [1, 1], weight: "W")
        #expect(layout.form == .perTensor && layout.dims == [] && layout.attributes.isEmpty)
        #expect(layout.expand([7]) == [7])
    }

    @Test func oneScalePerChannelOfAnyAxisIsPerAxis() throws {
        let layout = try ONNXScaleLayout(shape: [4, 16], blockCounts: [1, 16], weight: "W")
        #expect(layout.form == .perAxis(1) && layout.dims == [16])
        #expect(layout.expand(Array(0..<16)) == Array(0..<16))
        #expect(layout.minimumOpset(halfPrecisionScale: false) == 13 && layout.minimumOpset(halfPrecisionScale: true) == 19)
    }

    @Test func coreMLPerBlockRepeatsScalesAlongTheAxesABlockSpansWhole() throws {
        // Conv [2, 4, 1, 2]: one block per output channel, blocks of 2 input channels.
        let layout = try ONNXScaleLayout(shape: [2, 4, 1, 2], blockCounts: [2, 2, 1, 1], weight: "W")
        #expect(layout.form == .blocked(axis: 1, blockSize: 2) && layout.dims == [2, 2, 1, 2])
        #expect(layout.expand([10, 11, 20, 21]) == [10, 10, 11, 11, 20, 20, 21, 21])
        #expect(layout.attributes == [.init("axis", .int(1)), .init("block_size", .int(2))])
        #expect(layout.minimumOpset(halfPrecisionScale: false) == 21)
    }

    @Test func perChannelOnTwoAxesBlocksAWholeAxis() throws {
        let layout = try ONNXScaleLayout(shape: [2, 3, 4], blockCounts: [2, 3, 1], weight: "W")
        #expect(layout.form == .blocked(axis: 2, blockSize: 4) && layout.dims == [2, 3, 1])
    }

    @Test func blocksAlongTwoAxesAreInexpressible() {
        #expect {
            try ONNXScaleLayout(shape: [4, 4], blockCounts: [2, 2], weight: "W")
        } throws: { error in
            if case ONNXError.inexpressible(weight: "W", _) = error { return true }
            return false
        }
    }

    @Test func elementsFindTheirBlock() throws {
        let layout = try ONNXScaleLayout(shape: [2, 4], blockCounts: [2, 2], weight: "W")
        #expect((0..<8).map(layout.block(ofElement:)) == [0, 0, 1, 1, 2, 2, 3, 3])
    }
}
