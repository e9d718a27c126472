import ArgumentParser
import Foundation
import Service

struct EstimateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "Compare compression configs on a model: size, predicted accuracy change, latency and memory per device. Nothing is written.")

    @Argument(help: "The model file (.mlpackage as zip or tar, or safetensors).")
    var input: String

    @Option(name: .long, help: "Target device, by name or chip (e.g. \"iPhone 15 Pro\", M4).")
    var device: String?

    @Option(name: .long, help: "cpuOnly, cpuAndGPU, cpuAndNeuralEngine or all.")
    var computeUnits: String?

    @Option(name: .long, parsing: .singleValue, help: "A preset name, a coremltools config as JSON, or @FILE; repeat to compare. None = the default sweep.")
    var config: [String] = []

    @Option(name: .long, help: "Largest predicted top-1 loss to accept, points.")
    var accuracyBudget: Double?

    @Flag(name: .long, help: "Estimate with int8 activations (W8A8) too; quantd itself compresses weights only.")
    var int8Activations = false

    @Option(name: .long, help: "Raise a Core ML model to this deployment target first (iOS18 for per-block or grouped forms), as a job would.")
    var minimumDeploymentTarget: String?

    @Option(name: .long, help: "The OS runtime to estimate for: iOS17/macOS14 or iOS18/macOS15 (default: the newest).")
    var os: String?

    @Option(name: .long, help: "The device catalog (default: config/devices.json).")
    var devices = ""

    @Flag(name: .long, help: "Print the JSON that POST /v1/estimate returns.")
    var json = false

    mutating func run() throws {
        let configs = try config.map(ConfigArgument.json)
        do {
            print(try LocalEstimation.run(input: input, configs: configs, device: device, computeUnits: computeUnits, budget: accuracyBudget,
                                          int8Activations: int8Activations, minimumDeploymentTarget: minimumDeploymentTarget,
                                          os: os, devicesPath: devices, json: json))
        } catch let problem as Problem {
            throw ValidationError(problem.detail)
        }
    }
}
