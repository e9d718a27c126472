import Estimation
/// What a finished job tells its user: per tensor what was done and what it cost in error,
/// and totals to compare against float16 and the upload. Served at /v1/jobs/{id}/report.
public struct CompressionReport: Codable, Sendable, Equatable {
    public struct Tensor: Codable, Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var dtype: String
        /// `compressed` or `unchanged`.
        public var action: String
        /// Why an unchanged tensor was left alone.
        public var reason: String?
        /// e.g. `linear_symmetric int8 per_channel`.
        public var mode: String?
        public var bytesBefore: Int
        /// Including scales and zero points.
        public var bytesAfter: Int
        public var bitsPerWeight: Double
        /// Signal-to-quantization-noise ratio; null when the tensor is reproduced exactly.
        public var sqnrDB: Double?
        public var maxAbsError: Double?
        public var cosine: Double?
        /// Fraction of weights that are exactly zero after compression (where it is cheap to know).
        public var sparsity: Double?
        /// Distinct codes or look-up-table entries in use.
        public var uniqueValues: Int?

        enum CodingKeys: String, CodingKey {
            case name, shape, dtype, action, reason, mode, cosine, sparsity
            case uniqueValues = "unique_values"
            case bytesBefore = "bytes_before", bytesAfter = "bytes_after", bitsPerWeight = "bits_per_weight"
            case sqnrDB = "sqnr_db", maxAbsError = "max_abs_error"
        }
    }

    public struct Totals: Codable, Sendable, Equatable {
        public var tensors: Int
        public var quantizedTensors: Int
        public var parameters: Int
        public var quantizedParameters: Int
        public var uploadBytes: Int
        /// The same parameters stored as float16: the baseline Core ML compares against.
        public var float16Bytes: Int
        /// The compressed model before gzip.
        public var artifactBytes: Int
        /// What is stored and downloaded.
        public var gzipBytes: Int
        public var compressionRatioVsFloat16: Double
        public var compressionRatioVsUpload: Double
        /// Mean SQNR of quantized tensors weighted by their parameter count (null if none).
        public var meanSQNRDB: Double?

        enum CodingKeys: String, CodingKey {
            case tensors, parameters
            case quantizedTensors = "quantized_tensors", quantizedParameters = "quantized_parameters"
            case uploadBytes = "upload_bytes", float16Bytes = "float16_bytes", artifactBytes = "artifact_bytes"
            case gzipBytes = "gzip_bytes", compressionRatioVsFloat16 = "compression_ratio_vs_float16"
            case compressionRatioVsUpload = "compression_ratio_vs_upload", meanSQNRDB = "mean_sqnr_db"
        }
    }

    /// Where a job's time went, in seconds.
    public struct Timings: Codable, Sendable, Equatable {
        /// Reading, quantizing and writing the gzip artifact (the two overlap).
        public var compressSeconds: Double
        /// Of those, opening the model before compressing (see `CompressionOutcome.readSeconds`).
        public var readSeconds: Double
        /// Of those, compressing the tensors in memory (the engine), before writing begins.
        public var encodeSeconds: Double
        /// From the worker taking the job to the artifact being in place.
        public var totalSeconds: Double

        enum CodingKeys: String, CodingKey {
            case compressSeconds = "compress_seconds", readSeconds = "read_seconds", encodeSeconds = "encode_seconds"
            case totalSeconds = "total_seconds"
        }
    }

    public var jobID: String
    public var modelID: String
    public var format: String
    public var tensors: [Tensor]
    public var totals: Totals
    public var warnings: [String]
    public var timings: Timings
    /// Latency, memory and accuracy per device and compute units (Core ML models).
    public var estimates: ModelEstimate?
    /// Both models run on the job's dataset, when it asked for an evaluation.
    public var evaluation: EvaluationReport?
    /// The calibration and the quantize/dequantize pairs, when the job quantized activations.
    public var activationQuantization: ActivationQuantizationReport?

    enum CodingKeys: String, CodingKey {
        case format, tensors, totals, warnings, timings, estimates, evaluation
        case jobID = "job_id", modelID = "model_id", activationQuantization = "activation_quantization"
    }
}
