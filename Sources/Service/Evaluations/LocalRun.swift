import Execution
import Foundation
import Glibc
import ModelFormats

/// `quantd run`: a model on samples, on this machine's CPU — the executor the evaluation uses,
/// for scripts and for checking it against other runtimes.
public enum LocalRun {
    public struct Timing: Encodable {
        /// Opening the model, lowering its graph, and the executor's preparation.
        var loadSeconds: Double
        /// One entry per repetition of the whole dataset.
        var runSeconds: [Double]
        var peakActivationBytes: Int
        var samples: Int
        var omittedSamples: Int

        enum CodingKeys: String, CodingKey {
            case samples
            case loadSeconds = "load_seconds", runSeconds = "run_seconds", peakActivationBytes = "peak_activation_bytes"
            case omittedSamples = "omitted_samples"
        }
    }

    /// Runs every sample of `data` (repeated `repeats` times), writes the outputs of the last
    /// repetition to `output` as .npz (each output's batches joined along the first axis), and
    /// returns the timing as JSON.
    public static func run(model: String, data: String, output: String, threads: Int, batchSize: Int?, repeats: Int) throws -> Data {
        let started = ContinuousClock.now
        let size = Int((try? FileManager.default.attributesOfItem(atPath: model)[.size] as? NSNumber)?.intValue ?? 0)
        let adapter = try StoredModelFormat.detect(path: model, size: size).adapter(path: model)
        let dataset: DatasetFile
        do { dataset = try DatasetFile(path: data) } catch { throw Problem.invalidDataset(error.description) }
        // The graph goes straight into the executor, which keeps the only copy of its weights.
        let executor: Executor
        do { executor = try Executor(try adapter.executionGraph(), threads: threads) } catch let error as ExecutionError { throw Problem(error) }
        let graph = executor.graph
        let batches = try ModelEvaluation.batches(of: dataset, for: graph.inputs, preferredBatchSize: batchSize ?? dataset.signature.sampleCount)
        let loaded = ContinuousClock.now
        var runSeconds: [Double] = []
        var outputs: [String: [Tensor]] = [:]
        for repetition in 0..<max(1, repeats) {
            let runStarted = ContinuousClock.now
            var results: [String: [Tensor]] = [:]
            for index in 0..<batches.batchCount {
                let result: [String: Tensor]
                do { result = try executor.run(batches.batch(index).inputs) } catch let error as ExecutionError { throw Problem(error) }
                for (name, tensor) in result { results[name, default: []].append(tensor) }
            }
            runSeconds.append((ContinuousClock.now - runStarted).seconds)
            if repetition == max(1, repeats) - 1 { outputs = results }
        }
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Problem.storage("cannot create \(output): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try NPZWriter.write(graph.outputs.compactMap { name in outputs[name].map { (name, Self.joined($0)) } }) {
            try writeAll($0, to: fd)
        }
        let timing = Timing(loadSeconds: (loaded - started).seconds, runSeconds: runSeconds,
                            peakActivationBytes: executor.peakActivationBytes,
                            samples: batches.binding.sampleCount - batches.omittedSamples, omittedSamples: batches.omittedSamples)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(timing)
    }

    /// Batches of one output joined along the first axis.
    static func joined(_ parts: [Tensor]) -> ConstantTensor {
        let first = parts[0]
        let shape = [parts.reduce(0) { $0 + ($1.shape.first ?? 1) }] + first.shape.dropFirst()
        switch first.elements {
        case .float32: return ConstantTensor(shape: shape, elements: .float32(parts.flatMap { $0.floats ?? [] }))
        case .int64: return ConstantTensor(shape: shape, elements: .int64(parts.flatMap { $0.int64s ?? [] }))
        case .bool: return ConstantTensor(shape: shape, elements: .bool(parts.flatMap { $0.bools ?? [] }))
        }
    }
}
