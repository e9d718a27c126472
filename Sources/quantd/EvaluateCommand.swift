import ArgumentParser
import Foundation
import Service

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Compress a model locally and measure it: run the float and the compressed model on your samples and print, as JSON, how each output and each layer changed.")

    @Argument(help: "The model file: ONNX (.onnx, or zipped/tarred with its external data), or a zipped or tarred .mlpackage.")
    var model: String

    @Option(name: .long, help: "The samples: .npz (np.savez) or safetensors, one array per model input, samples along the first axis.")
    var data: String

    @Option(name: .long, help: "A named preset (see GET /v1/presets).")
    var preset: String?

    @Option(name: .long, help: "A coremltools OptimizationConfig dictionary as JSON, or @FILE.")
    var config: String?

    @Option(name: .long, help: "For a Core ML model: raise it to this deployment target first, as coremltools' minimum_deployment_target.")
    var minimumDeploymentTarget: String?

    @Option(name: .long, help: "For an ONNX model: qdq (default) or matmul_nbits.")
    var onnxFormat: String?

    @Option(name: .long, help: "Threads for the executor.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Keep the compressed model here (uncompressed artifact, as quantd compress writes it).")
    var compressedOutput: String?

    mutating func run() throws {
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        let configJSON = try ConfigArgument.json(config)
        do {
            let report = try LocalEvaluation.run(input: model, data: data, preset: preset, configJSON: configJSON,
                                                 minimumDeploymentTarget: minimumDeploymentTarget, onnxFormat: onnxFormat,
                                                 threads: threads, compressedOutput: compressedOutput)
            FileHandle.standardOutput.write(report + Data("\n".utf8))
        } catch let problem as Problem {
            throw ValidationError(problem.detail)
        }
    }
}
