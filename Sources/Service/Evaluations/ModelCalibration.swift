import Execution
import Foundation
import ModelFormats

/// Activation ranges of a float model on calibration samples, for jobs and `quantd compress`:
/// the model lowered, the dataset bound to its inputs (as for an evaluation), every float
/// activation's range gathered over all samples.
enum ModelCalibration {
    /// Samples per run when the batch dimension is free: nothing is kept between nodes but the
    /// ranges, so a few samples per run amortise each node's overhead.
    static let preferredBatchSize = 4

    static func ranges(of model: any FormatAdapter, dataset: DatasetFile, method: CalibrationMethod, threads: Int,
                       progress: (Double) -> Void, isCancelled: () -> Bool) throws -> (ranges: [String: TensorRange], samples: Int) {
        do {
            let executor = try Executor(try model.executionGraph(), threads: threads)
            let batches = try ModelEvaluation.batches(of: dataset, for: executor.graph.inputs, preferredBatchSize: preferredBatchSize)
            let ranges = try ActivationCalibration.run(executor, batchCount: batches.batchCount, batch: { batches.batch($0) },
                                                       method: method, progress: progress, isCancelled: isCancelled)
            return (ranges, batches.binding.sampleCount - batches.omittedSamples)
        } catch let error as ExecutionError {
            throw Problem(error)
        }
    }
}
