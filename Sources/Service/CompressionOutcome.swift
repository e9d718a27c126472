/// What a compressor returns for a whole model, whatever its format.
struct CompressionOutcome {
    var tensors: [CompressionReport.Tensor]
    var warnings: [String]
    var artifactBytes: Int
    /// Compressing every tensor in memory, before the artifact is written.
    var encodeSeconds: Double
}
