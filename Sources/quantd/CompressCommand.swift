import ArgumentParser
import Foundation
import Service

struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Compress a model file locally, without the server; writes the uncompressed artifact and prints the report.")

    @Argument(help: "The model file: safetensors, ONNX (.onnx, or zipped/tarred with its external data), or a zipped or tarred .mlpackage.")
    var input: String

    @Option(name: [.short, .long], help: "Where to write the compressed model.")
    var output: String

    @Option(name: .long, help: "A named preset (see GET /v1/presets).")
    var preset: String?

    @Option(name: .long, help: "A coremltools OptimizationConfig dictionary as JSON, or @FILE.")
    var config: String?

    @Option(name: .long, help: "For a Core ML model: raise it to this deployment target (iOS15…iOS18, macOS12…macOS15, tvOS15…tvOS18, watchOS8…watchOS11) when it is older, as coremltools' minimum_deployment_target.")
    var minimumDeploymentTarget: String?

    @Option(name: .long, help: "For an ONNX model: how MatMul weights are stored, qdq (DequantizeLinear, default) or matmul_nbits (onnxruntime's com.microsoft.MatMulNBits, for 4- or 8-bit per_block configs).")
    var onnxFormat: String?

    @Option(name: .long, help: "Quantize activations too (W8A8 with an int8 --config): a coremltools OptimizationConfig of OpLinearQuantizerConfig (mode, dtype int8/uint8) as for linear_quantize_activations, as JSON or @FILE. Needs --calibration-data.")
    var activationConfig: String?

    @Option(name: .long, help: "Calibration samples for --activation-config: an .npz (or safetensors) file with one array per model input, samples along the first axis.")
    var calibrationData: String?

    @Option(name: .long, help: "How activation ranges are read from the samples: minmax (default, as coremltools and onnxruntime) or percentile.")
    var calibrationMethod: String?

    @Option(name: .long, help: "With --calibration-method percentile: the percentile of |x| kept (default 99.999).")
    var percentile: Double?

    @Option(name: .long, help: "Write the JSON report here instead of standard output.")
    var report: String?

    mutating func run() throws {
        let configJSON = try ConfigArgument.json(config)
        var activations: LocalCompression.Activations?
        if let activationConfig {
            guard let calibrationData else { throw ValidationError("--activation-config needs --calibration-data: the samples its ranges are calibrated on") }
            activations = .init(configJSON: try ConfigArgument.json(activationConfig), calibrationData: calibrationData,
                                method: calibrationMethod, percentile: percentile)
        } else if calibrationData != nil || calibrationMethod != nil || percentile != nil {
            throw ValidationError("--calibration-data, --calibration-method and --percentile apply to --activation-config")
        }
        do {
            let result = try LocalCompression.run(input: input, output: output, preset: preset, configJSON: configJSON,
                                                  minimumDeploymentTarget: minimumDeploymentTarget, onnxFormat: onnxFormat,
                                                  activations: activations)
            if let report {
                try result.write(to: URL(fileURLWithPath: report))
            } else {
                FileHandle.standardOutput.write(result)
            }
        } catch let problem as Problem {
            throw ValidationError(problem.detail)
        }
    }
}
