import Foundation
import ModelFormats

/// `quantd evaluate`: a job's compression and evaluation on local files — compress the model,
/// run the float and the compressed model on the samples, print what changed.
public enum LocalEvaluation {
    /// Returns `{"compression": …, "evaluation": …}` as JSON: the `quantd compress` summary and
    /// the report's evaluation section.
    public static func run(input: String, data: String, preset: String?, configJSON: String?, minimumDeploymentTarget: String?,
                           onnxFormat: String?, threads: Int, compressedOutput: String?) throws -> Data {
        let dataset: DatasetFile
        do { dataset = try DatasetFile(path: data) } catch { throw Problem.invalidDataset(error.description) }
        let size = Int((try? FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.intValue ?? 0)
        let format = try StoredModelFormat.detect(path: input, size: size)
        let original = try format.adapter(path: input)
        // Refused before compressing: a dataset that does not fit, or a model that cannot run.
        try ModelEvaluation.check(dataset.signature, against: original)
        let output = compressedOutput ?? NSTemporaryDirectory() + "quantd-evaluate-\(UUID().uuidString)"
        defer { if compressedOutput == nil { unlink(output) } }
        let summary = try LocalCompression.run(input: input, output: output, preset: preset, configJSON: configJSON,
                                               minimumDeploymentTarget: minimumDeploymentTarget, onnxFormat: onnxFormat)
        let evaluation = try ModelEvaluation.run(original: original, compressed: try format.adapter(path: output), dataset: dataset,
                                                 datasetID: nil, threads: threads, progress: { _ in }, isCancelled: { false })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let combined: [String: Any] = [
            "compression": try JSONSerialization.jsonObject(with: summary),
            "evaluation": try JSONSerialization.jsonObject(with: try encoder.encode(evaluation)),
        ]
        return try JSONSerialization.data(withJSONObject: combined, options: [.sortedKeys, .prettyPrinted])
    }
}
