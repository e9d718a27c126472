import Foundation
import Glibc
import ModelFormats
import QuantCore

/// `quantd compress`: the job's compression step on a local file, for scripts and the
/// oracle tests. Same config parsing and compressor as the service; no gzip, no store.
public enum LocalCompression {
    /// Returns the report as JSON.
    public static func run(input: String, output: String, preset: String?, configJSON: String?,
                           minimumDeploymentTarget: String?, onnxFormat: String? = nil) throws -> Data {
        let config: CompressionPipeline
        switch (preset, configJSON) {
        case (let name?, nil):
            config = try APIResponder.preset(name).config
        case (nil, let json?):
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: Data(json.utf8)) } catch {
                throw Problem.invalidRequest("--config is not valid JSON: \(error.localizedDescription)")
            }
            do { config = try CompressionPipeline(value: object) } catch {
                throw Problem.invalidConfig(error.message, field: error.field)
            }
        default:
            throw Problem.invalidRequest("give exactly one of --preset and --config")
        }
        let request = CompressionRequest(pipeline: config,
                                         minimumDeploymentTarget: try minimumDeploymentTarget.map(CoreMLCompressor.deploymentTarget(named:)),
                                         onnxWeightForm: try onnxFormat.map(ONNXWeightForm.init(named:)))
        let size = Int((try? FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.intValue ?? 0)
        let adapter = try StoredModelFormat.detect(path: input, size: size).adapter(path: input)
        try adapter.preflight(request)
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Problem.storage("cannot create \(output): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let started = Date()
        let outcome = try adapter.compress(request, to: { try writeAll($0, to: fd) }, progress: { _ in }, isCancelled: { false })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(Summary(tensors: outcome.tensors, warnings: outcome.warnings, artifactBytes: outcome.artifactBytes,
                                          compressSeconds: Date().timeIntervalSince(started),
                                          readSeconds: outcome.readSeconds, encodeSeconds: outcome.encodeSeconds))
    }

    struct Summary: Encodable {
        var tensors: [CompressionReport.Tensor]
        var warnings: [String]
        var artifactBytes: Int
        /// Opening, compressing and writing, in this process (no start-up).
        var compressSeconds: Double
        /// Of those, opening the model before compressing (see `CompressionOutcome.readSeconds`).
        var readSeconds: Double
        /// Of those, compressing the tensors in memory, before writing.
        var encodeSeconds: Double

        enum CodingKeys: String, CodingKey {
            case tensors, warnings
            case artifactBytes = "artifact_bytes", compressSeconds = "compress_seconds", readSeconds = "read_seconds"
            case encodeSeconds = "encode_seconds"
        }
    }
}
