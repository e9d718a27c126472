import Foundation
import Testing
@testable import QuantCore

@Suite struct LinearQuantizationConfigTests {
    @Test func quantizedRangesFollowCoremltools() {
        let ranges = LinearQuantizationConfig.Mode.allCases.flatMap { mode in
            LinearQuantizationConfig.DType.allCases.map { LinearQuantizationConfig(mode: mode, dtype: $0).quantizedRange }
        }
        #expect(ranges == [-127...127, 0...254, -7...7, 0...14,
                           -128...127, 0...255, -8...7, 0...15])
    }

    @Test func granularitiesBecomeBlockSizesLikeInferBlockSizes() throws {
        let conv = [64, 32, 3, 3]
        #expect(try LinearQuantizationConfig(granularity: .perTensor).blockSizes(for: conv) == [0, 0, 0, 0])
        #expect(try LinearQuantizationConfig().blockSizes(for: conv) == [1, 0, 0, 0])
        #expect(try LinearQuantizationConfig(granularity: .perBlock, blockSize: .alongInputAxis(16)).blockSizes(for: conv) == [1, 16, 0, 0])
        #expect(try LinearQuantizationConfig(granularity: .perBlock, blockSize: .perAxis([2, 0, 3, 1])).blockSizes(for: conv) == [2, 0, 3, 1])
        #expect(try LinearQuantizationConfig(outputAxis: -1, inputAxis: -2).blockSizes(for: [8, 4]) == [0, 1])
        #expect(throws: QuantCoreError.axisOutOfRange(axis: 2, rank: 2)) {
            try LinearQuantizationConfig(outputAxis: 2).blockSizes(for: [8, 4])
        }
        #expect(throws: QuantCoreError.blockSizeRankMismatch(blockSizes: 1, rank: 2)) {
            try LinearQuantizationConfig(granularity: .perBlock, blockSize: .perAxis([1])).blockSizes(for: [8, 4])
        }
    }

    @Test func appliesOnlyAboveTheThresholdAndToMatrices() {
        let config = LinearQuantizationConfig()
        #expect(!config.applies(toShape: [32, 64]))
        #expect(config.applies(toShape: [33, 64]))
        #expect(!config.applies(toShape: [100_000]))
    }

    @Test func blockSizeCodesAsIntOrList() throws {
        let decoder = JSONDecoder()
        #expect(try decoder.decode(LinearQuantizationConfig.BlockSize.self, from: Data("32".utf8)) == .alongInputAxis(32))
        #expect(try decoder.decode(LinearQuantizationConfig.BlockSize.self, from: Data("[1,0,4]".utf8)) == .perAxis([1, 0, 4]))
        let config = LinearQuantizationConfig(mode: .linear, dtype: .uint4, granularity: .perBlock, blockSize: .perAxis([1, 8]))
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        #expect(json.contains("\"blockSize\":[1,8]") && json.contains("\"granularity\":\"per_block\""))
        #expect(try decoder.decode(LinearQuantizationConfig.self, from: Data(json.utf8)) == config)
    }
}
