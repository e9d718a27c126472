import ArgumentParser
import Foundation
import Service

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model (ONNX or Core ML) on samples on this machine's CPU; writes its outputs as .npz and prints the timing as JSON.")

    @Argument(help: "The model file: ONNX (.onnx, or zipped/tarred with its external data), or a zipped or tarred .mlpackage.")
    var model: String

    @Option(name: .long, help: "The samples: .npz (np.savez) or safetensors, one array per model input, samples along the first axis.")
    var data: String

    @Option(name: [.short, .long], help: "Where to write the outputs (.npz, one array per model output).")
    var output: String

    @Option(name: .long, help: "Threads for the executor.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Samples per run when the model's batch dimension is free (default: all at once).")
    var batchSize: Int?

    @Option(name: .long, help: "Run the whole dataset this many times (for timing); outputs are the last run's.")
    var `repeat`: Int = 1

    mutating func run() throws {
        guard threads > 0, `repeat` > 0, (batchSize ?? 1) > 0 else { throw ValidationError("--threads, --repeat and --batch-size must be positive") }
        do {
            let timing = try LocalRun.run(model: model, data: data, output: output, threads: threads, batchSize: batchSize, repeats: `repeat`)
            FileHandle.standardOutput.write(timing + Data("\n".utf8))
        } catch let problem as Problem {
            throw ValidationError(problem.detail)
        }
    }
}
