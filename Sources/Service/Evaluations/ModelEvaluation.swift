import Execution
import Foundation
import ModelFormats

/// The one way quantd measures a compressed model on samples, for jobs and `quantd evaluate`:
/// both models lowered, the dataset bound to the float model's inputs, both run batch by batch.
enum ModelEvaluation {
    /// Samples per run when the model leaves its batch dimension free: one sample keeps the
    /// float model's intermediates (kept for the per-layer comparison) at one sample's worth.
    static let preferredBatchSize = 1

    /// Checks, before a job is queued, that the model can run and the dataset fits its inputs:
    /// 422s naming the op or the input.
    /// `field` names the request field that gave the dataset.
    static func check(_ dataset: DatasetSignature, against model: any FormatAdapter, field: String = "dataset_id") throws {
        _ = try binding(dataset, inputs: try model.executionGraph().inputs, field: field)
    }

    static func binding(_ dataset: DatasetSignature, inputs: [GraphInput], field: String = "dataset_id") throws -> DatasetBinding {
        do { return try DatasetBinding(dataset, inputs: inputs) } catch {
            throw Problem(422, "input-mismatch", "The samples do not fit the model's inputs", error.message,
                          extensions: ["field": field])
        }
    }

    /// Threads one run may use: the cores shared among the workers that may run at once.
    static func threads(workers: Int) -> Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, workers))
    }

    static func run(original: any FormatAdapter, compressed: any FormatAdapter, dataset: DatasetFile, datasetID: String?,
                    threads: Int, progress: (Double) -> Void, isCancelled: () -> Bool) throws -> EvaluationReport {
        do {
            // Each graph goes straight into its executor, which keeps the only copy of its weights.
            let evaluation = Evaluation(reference: try Executor(try original.executionGraph(), threads: threads),
                                        candidate: try Executor(try compressed.executionGraph(), threads: threads))
            let batches = try batches(of: dataset, for: evaluation.reference.graph.inputs, preferredBatchSize: preferredBatchSize)
            let result = try evaluation.run(batchCount: batches.batchCount, batch: { batches.batch($0) },
                                            progress: progress, isCancelled: isCancelled)
            return EvaluationReport(result, datasetID: datasetID, omittedSamples: batches.omittedSamples)
        } catch let error as ExecutionError {
            throw Problem(error)
        }
    }

    /// The dataset bound to `inputs` and cut into batches; a 422 when not one batch fits.
    static func batches(of dataset: DatasetFile, for inputs: [GraphInput], preferredBatchSize: Int) throws -> DatasetBatches {
        let binding = try binding(dataset.signature, inputs: inputs)
        var arrays: [String: ConstantTensor] = [:]
        for feed in binding.feeds where arrays[feed.array.name] == nil {
            arrays[feed.array.name] = dataset.array(named: feed.array.name)
        }
        let batches = DatasetBatches(binding: binding, arrays: arrays, preferredBatchSize: preferredBatchSize)
        guard batches.batchCount > 0 else {
            throw Problem.invalidDataset("the model runs \(batches.batchSize) samples at a time and the dataset holds \(binding.sampleCount); send at least \(batches.batchSize)")
        }
        return batches
    }
}
