import Foundation
import Testing
@testable import QuantCore

@Suite struct PruningConfigTests {
    @Test func defaultsFollowCoremltools() throws {
        let threshold = try PruningConfig.threshold()
        #expect(threshold.mode == .threshold(threshold: 1e-12, minimumSparsity: 0.5))
        #expect(threshold.weightThreshold == 2048)
        #expect(try PruningConfig.magnitude(targetSparsity: 0.5).mode == .unstructured(targetSparsity: 0.5))
    }

    @Test func dimDefaultsToOutputForBlocksAndInputForNOfM() throws {
        #expect(try PruningConfig.magnitude(targetSparsity: 0.5, blockSize: 2).mode
                == .block(targetSparsity: 0.5, blockSize: 2, dim: 0))
        #expect(try PruningConfig.magnitude(nmRatio: (2, 4)).mode == .nOfM(n: 2, m: 4, dim: 1))
        #expect(try PruningConfig.magnitude(nmRatio: (2, 4), dim: 0).mode == .nOfM(n: 2, m: 4, dim: 0))
    }

    /// The field coremltools' error would name, or nil if the config is accepted.
    private func field(_ make: () throws(PruningConfig.Invalid) -> PruningConfig) -> String? {
        do {
            _ = try make()
            return nil
        } catch {
            return error.field
        }
    }

    @Test func invalidConfigsNameTheField() {
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.threshold(threshold: -1) } == "threshold")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.threshold(minimumSparsityPercentile: 1.5) } == "minimum_sparsity_percentile")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude() } == "target_sparsity")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(targetSparsity: 0.5, nmRatio: (2, 4)) } == "target_sparsity")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(targetSparsity: 1.01) } == "target_sparsity")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(targetSparsity: -0.1) } == "target_sparsity")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(targetSparsity: 0.5, blockSize: 1) } == "block_size")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(blockSize: 2, nmRatio: (2, 4)) } == "block_size")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(nmRatio: (5, 4)) } == "n_m_ratio")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(nmRatio: (0, 0)) } == "n_m_ratio")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(targetSparsity: 0.5, dim: 0) } == "dim")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(nmRatio: (2, 4), dim: 2) } == "dim")
        #expect(field { () throws(PruningConfig.Invalid) in try PruningConfig.magnitude(targetSparsity: 0.5, weightThreshold: -1) } == "weight_threshold")
    }

    @Test func parsesCoremltoolsDictionaries() throws {
        let magnitude = try PruningConfig(dictionary: ["n_m_ratio": [1, 4], "weight_threshold": 100],
                                          configType: "OpMagnitudePrunerConfig")
        #expect(magnitude.mode == .nOfM(n: 1, m: 4, dim: 1) && magnitude.weightThreshold == 100)
        let threshold = try PruningConfig(dictionary: ["threshold": 0.01], configType: "OpThresholdPrunerConfig")
        #expect(threshold.mode == .threshold(threshold: 0.01, minimumSparsity: 0.5))
        let whole = try PruningConfig(dictionary: ["target_sparsity": 1], configType: "OpMagnitudePrunerConfig")
        #expect(whole.mode == .unstructured(targetSparsity: 1))
    }

    @Test func dictionaryErrorsNameTheKey() {
        #expect(throws: PruningConfig.Invalid.unknownKey("sparsity", configType: "OpMagnitudePrunerConfig")) {
            try PruningConfig(dictionary: ["sparsity": 0.5], configType: "OpMagnitudePrunerConfig")
        }
        #expect(throws: PruningConfig.Invalid.wrongType(field: "block_size", expected: "an integer")) {
            try PruningConfig(dictionary: ["target_sparsity": 0.5, "block_size": 2.5], configType: "OpMagnitudePrunerConfig")
        }
        #expect(throws: PruningConfig.Invalid.wrongType(field: "target_sparsity", expected: "a number")) {
            try PruningConfig(dictionary: ["target_sparsity": true], configType: "OpMagnitudePrunerConfig")
        }
        #expect(throws: PruningConfig.Invalid.unknownConfigType("OpPalettizerConfig")) {
            try PruningConfig(dictionary: [:], configType: "OpPalettizerConfig")
        }
    }

    @Test func dictionaryRoundTrips() throws {
        for config in [try PruningConfig.threshold(threshold: 0.5), try .magnitude(targetSparsity: 0.25, blockSize: 4, dim: 1),
                       try .magnitude(nmRatio: (2, 4)), try .magnitude(targetSparsity: 0.75, weightThreshold: 7)] {
            #expect(try PruningConfig(dictionary: config.dictionary, configType: config.configType) == config)
        }
    }

    @Test func appliesToRankTwoTensorsAboveTheThreshold() throws {
        let config = try PruningConfig.magnitude(targetSparsity: 0.5)
        #expect(config.applies(toShape: [64, 33]))
        #expect(!config.applies(toShape: [64, 32]))
        #expect(!config.applies(toShape: [4096]))
    }
}
