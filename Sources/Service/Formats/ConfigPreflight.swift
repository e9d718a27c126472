import Compression
import ModelFormats
import QuantCore

/// Checks a compression config against a safetensors model's tensors before a job is queued,
/// so errors coremltools raises (rather than warns about) reach the user as a 422 at once,
/// not as a failed job later.
enum ConfigPreflight {
    static func check(_ pipeline: CompressionPipeline, against file: SafetensorsFile) throws {
        let compressor = WeightCompressor(pipeline: pipeline)
        for t in file.tensors {
            do { try compressor.preflight(SafetensorsCompressor.candidate(t)) } catch { throw Problem(error) }
        }
    }
}
