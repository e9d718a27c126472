import QuantCore

/// Named configs for one-shot jobs (`POST /v1/jobs?preset=w8`), each a plain
/// `OptimizationConfig`, listed at GET /v1/presets.
enum Presets {
    struct Preset {
        var name: String
        var summary: String
        var config: CompressionPipeline
    }

    private static func linear(_ c: LinearQuantizationConfig) -> CompressionPipeline {
        CompressionPipeline(OptimizationConfig(global: .linearQuantization(c)))
    }

    static let all: [Preset] = [
        Preset(name: "w8", summary: "int8 weights, symmetric, one scale per output channel (coremltools' default linear quantization)",
               config: linear(LinearQuantizationConfig())),
        Preset(name: "w8-per-tensor", summary: "int8 weights, symmetric, one scale per tensor",
               config: linear(LinearQuantizationConfig(granularity: .perTensor))),
        Preset(name: "w8-asymmetric", summary: "uint8 weights with a zero point per output channel (mode linear)",
               config: linear(LinearQuantizationConfig(mode: .linear, dtype: .uint8))),
        Preset(name: "w4-block32", summary: "int4 weights, symmetric, one scale per block of 32 input channels (iOS 18 per-block)",
               config: linear(LinearQuantizationConfig(dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(32)))),
        Preset(name: "w4-block16", summary: "int4 weights, symmetric, one scale per block of 16 input channels",
               config: linear(LinearQuantizationConfig(dtype: .int4, granularity: .perBlock, blockSize: .alongInputAxis(16)))),
        Preset(name: "palettize-8", summary: "8-bit k-means look-up table per tensor (256 entries)",
               config: palettize(PalettizationConfig(nbits: 8))),
        Preset(name: "palettize-6", summary: "6-bit k-means look-up table per tensor",
               config: palettize(PalettizationConfig(nbits: 6))),
        Preset(name: "palettize-4", summary: "4-bit k-means look-up table per tensor",
               config: palettize(PalettizationConfig(nbits: 4))),
        Preset(name: "palettize-4-gs16", summary: "4-bit k-means, one look-up table per group of 16 output channels (iOS 18)",
               config: palettize(PalettizationConfig(nbits: 4, granularity: .perGroupedChannel, groupSize: 16))),
        Preset(name: "palettize-2", summary: "2-bit k-means look-up table per tensor (aggressive; check the error)",
               config: palettize(PalettizationConfig(nbits: 2))),
        Preset(name: "prune-50", summary: "50% magnitude pruning (smallest |w| set to zero), stored as mask + non-zero values",
               config: CompressionPipeline(prune(try! .magnitude(targetSparsity: 0.5)))),
        Preset(name: "prune-75", summary: "75% magnitude pruning: the sparsity from which the Neural Engine can skip work",
               config: CompressionPipeline(prune(try! .magnitude(targetSparsity: 0.75)))),
        Preset(name: "prune-2-4", summary: "2:4 structured sparsity along the input channels",
               config: CompressionPipeline(prune(try! .magnitude(nmRatio: (2, 4))))),
        Preset(name: "prune-50-w8", summary: "50% magnitude pruning, then int8 per-channel quantization of the kept weights",
               config: CompressionPipeline([prune(try! .magnitude(targetSparsity: 0.5)),
                                            OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig()))])),
    ]

    private static func prune(_ p: PruningConfig) -> OptimizationConfig {
        OptimizationConfig(configType: p.configType, global: .pruning(p))
    }

    private static func palettize(_ c: PalettizationConfig) -> CompressionPipeline {
        CompressionPipeline(OptimizationConfig(configType: "OpPalettizerConfig", global: .palettization(c)))
    }

    static func named(_ name: String) -> Preset? { all.first { $0.name == name } }
}
