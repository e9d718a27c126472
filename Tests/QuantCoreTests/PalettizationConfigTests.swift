import Foundation
import Testing
@testable import QuantCore

@Suite struct PalettizationConfigTests {
    @Test func validationNamesTheField() {
        let cases: [(PalettizationConfig, QuantCoreError)] = [
            (.init(), .missingPaletteBitWidth(mode: "kmeans")),
            (.init(mode: .uniform), .missingPaletteBitWidth(mode: "uniform")),
            (.init(mode: .unique, nbits: 4), .unexpectedPaletteBitWidth(mode: "unique")),
            (.init(nbits: 5), .unsupportedPaletteBitWidth(5)),
            (.init(nbits: 0), .unsupportedPaletteBitWidth(0)),
            (.init(nbits: 4, groupSize: -1), .invalidGroupSize(-1)),
            (.init(nbits: 4, clusterDim: 0), .invalidClusterDimension(0)),
            (.init(mode: .uniform, nbits: 4, clusterDim: 2), .uniformVectorPalettization),
        ]
        for (config, expected) in cases {
            #expect(throws: expected) { try config.validate() }
        }
        for nbits in PalettizationConfig.supportedBitWidths {
            #expect(throws: Never.self) { try PalettizationConfig(nbits: nbits).validate() }
        }
        #expect(QuantCoreError.unsupportedPaletteBitWidth(5).description.contains("nbits"))
        #expect(QuantCoreError.groupSizeDoesNotDivide(axis: 0, dimension: 10, groupSize: 4).description.contains("group_size"))
        #expect(QuantCoreError.clusterDimensionDoesNotDivide(axis: 0, groupSize: 6, clusterDimension: 4).description.contains("cluster_dim"))
    }

    @Test func groupSizeAndClusterDimMustDivide() throws {
        let grouped = PalettizationConfig(nbits: 4, granularity: .perGroupedChannel, groupSize: 4)
        #expect(throws: QuantCoreError.groupSizeDoesNotDivide(axis: 0, dimension: 10, groupSize: 4)) {
            try grouped.resolvedGroupSize(shape: [10, 3])
        }
        #expect(try grouped.resolvedGroupSize(shape: [12, 3]) == 4)
        #expect(try PalettizationConfig(nbits: 4, granularity: .perGroupedChannel, groupSize: 0).resolvedGroupSize(shape: [12, 3]) == 12)
        // Per tensor ignores group_size: one group of all channels.
        #expect(try PalettizationConfig(nbits: 4, groupSize: 5).resolvedGroupSize(shape: [12, 3]) == 12)
        #expect(throws: QuantCoreError.clusterDimensionDoesNotDivide(axis: 0, groupSize: 6, clusterDimension: 4)) {
            try PalettizationConfig(nbits: 4, clusterDim: 4).resolvedGroupSize(shape: [6, 3])
        }
        #expect(throws: QuantCoreError.axisOutOfRange(axis: 2, rank: 2)) {
            try PalettizationConfig(nbits: 4, granularity: .perGroupedChannel, channelAxis: 2).resolvedChannelAxis(rank: 2)
        }
    }

    @Test func appliesAboveTheThresholdToTensorsWithChannels() {
        let config = PalettizationConfig(nbits: 4)
        #expect(config.applies(toShape: [64, 33]))
        #expect(!config.applies(toShape: [64, 32]))
        #expect(!config.applies(toShape: [4096]))
    }

    @Test func decodesCoremltoolsKeysWithDefaults() throws {
        let json = #"{"mode": "KMEANS", "nbits": 4, "granularity": "per_grouped_channel", "group_size": 16, "channel_axis": 1, "cluster_dim": 2, "enable_per_channel_scale": true, "weight_threshold": 100, "num_kmeans_workers": 4}"#
        let config = try JSONDecoder().decode(PalettizationConfig.self, from: Data(json.utf8))
        #expect(config == PalettizationConfig(mode: .kmeans, nbits: 4, granularity: .perGroupedChannel, groupSize: 16,
                                              channelAxis: 1, clusterDim: 2, enablePerChannelScale: true, weightThreshold: 100))
        let defaults = try JSONDecoder().decode(PalettizationConfig.self, from: Data(#"{"mode": "unique"}"#.utf8))
        #expect(defaults == PalettizationConfig(mode: .unique))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(PalettizationConfig.self, from: Data(#"{"mode": "custom"}"#.utf8))
        }
        let encoded = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(PalettizationConfig.self, from: encoded) == config)
    }
}
