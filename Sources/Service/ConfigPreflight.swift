import ModelFormats
import QuantCore

/// Checks a compression config against a model's tensors before a job is queued, so errors
/// coremltools raises (rather than warns about) reach the user as a 422 at once, not as a
/// failed job later.
enum ConfigPreflight {
    static func check(_ pipeline: CompressionPipeline, against file: SafetensorsFile) throws {
        for t in file.tensors where t.dtype.isFloatingPoint {
            for op in pipeline.ops(opName: t.name, opType: SafetensorsCompressor.opType(rank: t.shape.count)) {
                guard case .palettization(let c) = op, c.applies(toShape: t.shape) else { continue }
                do { _ = try c.resolvedGroupSize(shape: t.shape) } catch {
                    throw Problem.invalidConfig("tensor '\(t.name)' (shape \(t.shape)): \(error); choose a group_size and cluster_dim that divide its channels, or exclude it with op_name_configs",
                                                field: c.clusterDim > 1 ? "cluster_dim" : "group_size")
                }
            }
        }
    }
}
