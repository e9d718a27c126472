import Foundation
import Execution
import Glibc
import ModelFormats
import QuantCore

/// `quantd compress`: the job's compression step on a local file, for scripts and the
/// oracle tests. Same config parsing and compressor as the service; no gzip, no store.
public enum LocalCompression {
    /// Activation quantization for `run`: the config (JSON) and the calibration samples' file.
    public struct Activations {
        public var configJSON: String
        public var calibrationData: String
        public var method: String?
        public var percentile: Double?

        public init(configJSON: String, calibrationData: String, method: String?, percentile: Double?) {
            self.configJSON = configJSON
            self.calibrationData = calibrationData
            self.method = method
            self.percentile = percentile
        }
    }

    /// Returns the report as JSON.
    public static func run(input: String, output: String, preset: String?, configJSON: String?,
                           minimumDeploymentTarget: String?, onnxFormat: String? = nil, activations: Activations? = nil) throws -> Data {
        let config: CompressionPipeline
        switch (preset, configJSON) {
        case (let name?, nil):
            config = try APIResponder.preset(name).config
        case (nil, let text?):
            let object = try json(text, flag: "--config")
            do { config = try CompressionPipeline(value: object) } catch {
                throw Problem.invalidConfig(error.message, field: error.field)
            }
        case (nil, nil) where activations != nil:
            // Activations only: every weight stays as it is.
            config = CompressionPipeline([])
        default:
            throw Problem.invalidRequest("give exactly one of --preset and --config (or only --activation-config)")
        }
        let activationRequest = try activations.map { a in
            try ActivationQuantizationRequest(config: ActivationQuantizationRequest(activationConfig: json(a.configJSON, flag: "--activation-config"),
                                                                                   calibration: nil, requireDataset: false).config,
                                              datasetID: nil, method: ActivationQuantizationRequest.method(a.method, percentile: a.percentile.map { $0 as NSNumber }))
        }
        var request = CompressionRequest(pipeline: config,
                                         minimumDeploymentTarget: try minimumDeploymentTarget.map(CoreMLCompressor.deploymentTarget(named:)),
                                         onnxWeightForm: try onnxFormat.map(ONNXWeightForm.init(named:)),
                                         activations: activationRequest.map { ActivationQuantizationPlan(config: $0.config, ranges: [:]) })
        let size = Int((try? FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.intValue ?? 0)
        let adapter = try StoredModelFormat.detect(path: input, size: size).adapter(path: input)
        try adapter.preflight(request)
        var activationReport: (request: ActivationQuantizationRequest, samples: Int, seconds: Double)?
        if let activationRequest, let path = activations?.calibrationData {
            let started = Date()
            let dataset: DatasetFile
            do { dataset = try DatasetFile(path: path) } catch { throw Problem.invalidDataset(error.description) }
            let (ranges, samples) = try ModelCalibration.ranges(of: adapter, dataset: dataset, method: activationRequest.method,
                                                                threads: ProcessInfo.processInfo.activeProcessorCount,
                                                                progress: { _ in }, isCancelled: { false })
            request.activations?.ranges = ranges
            activationReport = (activationRequest, samples, Date().timeIntervalSince(started))
        }
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Problem.storage("cannot create \(output): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let started = Date()
        let outcome = try adapter.compress(request, to: { try writeAll($0, to: fd) }, progress: { _ in }, isCancelled: { false })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        var activationQuantization: ActivationQuantizationReport?
        if let report = activationReport, let summary = outcome.activationQuantization {
            activationQuantization = ActivationQuantizationReport(summary, request: report.request, samples: report.samples, seconds: report.seconds)
        }
        return try encoder.encode(Summary(tensors: outcome.tensors, warnings: outcome.warnings, artifactBytes: outcome.artifactBytes,
                                          compressSeconds: Date().timeIntervalSince(started),
                                          readSeconds: outcome.readSeconds, encodeSeconds: outcome.encodeSeconds,
                                          activationQuantization: activationQuantization))
    }

    private static func json(_ text: String, flag: String) throws -> Any {
        do { return try JSONSerialization.jsonObject(with: Data(text.utf8)) } catch {
            throw Problem.invalidRequest("\(flag) is not valid JSON: \(error.localizedDescription)")
        }
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
        var activationQuantization: ActivationQuantizationReport?

        enum CodingKeys: String, CodingKey {
            case tensors, warnings
            case activationQuantization = "activation_quantization"
            case artifactBytes = "artifact_bytes", compressSeconds = "compress_seconds", readSeconds = "read_seconds"
            case encodeSeconds = "encode_seconds"
        }
    }
}
