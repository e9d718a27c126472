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

    @Option(name: .long, help: "Write the JSON report here instead of standard output.")
    var report: String?

    mutating func run() throws {
        let configJSON = try ConfigArgument.json(config)
        do {
            let result = try LocalCompression.run(input: input, output: output, preset: preset, configJSON: configJSON,
                                                  minimumDeploymentTarget: minimumDeploymentTarget, onnxFormat: onnxFormat)
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
