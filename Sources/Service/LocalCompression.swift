import Foundation
import Glibc
import ModelFormats
import QuantCore

/// `quantd compress`: the job's compression step on a local file, for scripts and the
/// oracle tests. Same config parsing and compressor as the service; no gzip, no store.
public enum LocalCompression {
    /// Returns the report as JSON.
    public static func run(input: String, output: String, preset: String?, configJSON: String?,
                           minimumDeploymentTarget: String?) throws -> Data {
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
        let target = try minimumDeploymentTarget.map(CoreMLCompressor.deploymentTarget(named:))
        let size = Int((try? FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.intValue ?? 0)
        let format = try APIResponder.sniff(input, size: size)
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Problem.storage("cannot create \(output): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let started = Date()
        let outcome: CompressionOutcome
        if format == .zip || format == .tar {
            let mapping: MemoryMappedFile
            do { mapping = try MemoryMappedFile(path: input, accessPattern: .willNeed) } catch { throw Problem.invalidModel("\(input): \(error)") }
            outcome = try mapping.withBytes { bytes in
                let compressor = CoreMLCompressor(pipeline: config, minimumDeploymentTarget: target)
                try compressor.preflight(bytes)
                return try compressor.compress(bytes, to: { try writeAll($0, to: fd) }, progress: { _ in }, isCancelled: { false })
            }
        } else {
            guard target == nil else {
                throw Problem.invalidConfig("--minimum-deployment-target applies to Core ML models only; safetensors has no deployment target",
                                            field: "minimum_deployment_target")
            }
            let file: SafetensorsFile
            do { file = try SafetensorsFile(path: input, accessPattern: .willNeed) } catch { throw Problem.invalidModel("\(input): \(error)") }
            try ConfigPreflight.check(config, against: file)
            outcome = try SafetensorsCompressor(pipeline: config).compress(file, to: { try writeAll($0, to: fd) },
                                                                       progress: { _ in }, isCancelled: { false })
        }
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
