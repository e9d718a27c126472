import Testing
@testable import QuantCore

@Suite struct PaletteLayoutTests {
    @Test func groupsRunAlongTheChannelAxis() throws {
        // [4, 6] with groups of 2 channels on axis 0: rows 0–1 use LUT 0, rows 2–3 LUT 1.
        let layout = try PaletteLayout(shape: [4, 6], config: .init(nbits: 2, granularity: .perGroupedChannel, groupSize: 2))
        #expect(layout.groupCount == 2)
        #expect((0..<4).map(layout.group(ofIndexRow:)) == [0, 0, 1, 1])
        #expect(Array(layout.indexRows(ofGroup: 1)) == [2..<4])
    }

    @Test func groupsOnAxisOneInterleave() throws {
        // [2, 6, 3] with groups of 3 channels on axis 1: rows (o, c) → group c / 3.
        let config = PalettizationConfig(nbits: 2, granularity: .perGroupedChannel, groupSize: 3, channelAxis: 1)
        let layout = try PaletteLayout(shape: [2, 6, 3], config: config)
        #expect(layout.outer == 2 && layout.inner == 3)
        #expect((0..<12).map(layout.group(ofIndexRow:)) == [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1])
        #expect(Array(layout.indexRows(ofGroup: 1)) == [3..<6, 9..<12])
    }

    @Test func vectorsTakeConsecutiveChannels() throws {
        // [4, 3] with cluster_dim 2: index (v, i) covers elements (2v, i) and (2v + 1, i).
        let layout = try PaletteLayout(shape: [4, 3], config: .init(nbits: 2, clusterDim: 2))
        #expect(layout.indexShape == [2, 3])
        #expect(layout.indexCount == 6)
        #expect(layout.elementOffset(ofIndexRow: 1) == 6)
        let axisOne = try PaletteLayout(shape: [3, 4], config: .init(nbits: 2, granularity: .perGroupedChannel, groupSize: 0,
                                                                        channelAxis: -1, clusterDim: 2))
        #expect(axisOne.channelAxis == 1)
        #expect(axisOne.indexShape == [3, 2])
        #expect(axisOne.elementOffset(ofIndexRow: 3) == 6)  // o = 1, v = 1 → element (1, 2)
    }

    /// The axis of a per_tensor LUT's per-channel scales and vectors: the one it is given
    /// (the compression core gives the weight's output axis, as coremltools does).
    @Test func perTensorRunsAlongTheGivenAxisWithOneLUT() throws {
        let layout = try PaletteLayout(shape: [4, 6], config: .init(nbits: 2, channelAxis: 1))
        #expect(layout.channelAxis == 1)
        #expect(layout.isSingleGroup)
    }
}
