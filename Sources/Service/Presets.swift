import QuantCore

/// Named configs for one-shot jobs (`POST /v1/jobs?preset=w8`), each a plain
/// `OptimizationConfig`, listed at GET /v1/presets.
enum Presets {
    struct Preset {
        var name: String
        var summary: String
        var config: OptimizationConfig
    }

    static let all: [Preset] = [
        Preset(name: "w8", summary: "int8 weights, symmetric, one scale per output channel (coremltools' default linear quantization)",
               config: OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig()))),
        Preset(name: "w8-per-tensor", summary: "int8 weights, symmetric, one scale per tensor",
               config: OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig(granularity: .perTensor)))),
        Preset(name: "w8-asymmetric", summary: "uint8 weights with a zero point per output channel (mode linear)",
               config: OptimizationConfig(global: .linearQuantization(LinearQuantizationConfig(mode: .linear, dtype: .uint8)))),
    ]

    static func named(_ name: String) -> Preset? { all.first { $0.name == name } }
}
