import Execution
import ModelFormats

/// The report's `activation_quantization`: how the ranges were calibrated and, for every
/// quantized activation, its range and the scale and zero point written.
public struct ActivationQuantizationReport: Codable, Sendable, Equatable {
    public struct Calibration: Codable, Sendable, Equatable {
        public var datasetID: String?
        public var method: String
        public var percentile: Double?
        public var samples: Int
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case datasetID = "dataset_id", method = "calibration_method", percentile, samples, seconds
        }
    }

    public struct Tensor: Codable, Sendable, Equatable {
        public var name: String
        public var min: Float
        public var max: Float
        public var scale: Float
        public var zeroPoint: Int32
        public var dtype: String

        enum CodingKeys: String, CodingKey {
            case name, min, max, scale, dtype, zeroPoint = "zero_point"
        }
    }

    public var calibration: Calibration
    public var tensors: [Tensor]
    /// Ops reading quantized activations, by name.
    public var quantizedOps: [String]
    /// quantize and dequantize ops (nodes) added to the model.
    public var insertedOps: Int

    enum CodingKeys: String, CodingKey {
        case calibration, tensors
        case quantizedOps = "quantized_ops", insertedOps = "inserted_ops"
    }

    init(_ summary: ActivationQuantizationSummary, request: ActivationQuantizationRequest, samples: Int, seconds: Double) {
        let percentile: Double? = if case .percentile(let p) = request.method { p } else { nil }
        calibration = Calibration(datasetID: request.datasetID, method: percentile == nil ? "minmax" : "percentile",
                                  percentile: percentile, samples: samples, seconds: seconds)
        tensors = summary.tensors.map {
            Tensor(name: $0.name, min: $0.range.min, max: $0.range.max, scale: $0.parameters.scale,
                   zeroPoint: $0.parameters.zeroPoint, dtype: $0.parameters.dtype.rawValue)
        }
        quantizedOps = summary.quantizedOps
        insertedOps = summary.insertedOps
    }
}
