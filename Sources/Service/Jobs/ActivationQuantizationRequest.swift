import Execution
import Foundation
import QuantCore

/// A job's activation quantization as asked: the `activation_config` and its `calibration`
/// (`dataset_id`, `calibration_method`, `percentile`), parsed once at the API edge and stored
/// with the job in their dictionary form.
struct ActivationQuantizationRequest: Sendable, Equatable {
    var config: ActivationQuantizationConfig
    /// The calibration samples' dataset; nil for `quantd compress`, which reads a file.
    var datasetID: String?
    var method: CalibrationMethod

    /// `calibration` may be nil only where the samples come from elsewhere (the CLI's file).
    init(activationConfig: Any, calibration: Any?, requireDataset: Bool) throws {
        do { config = try ActivationQuantizationConfig(dictionary: activationConfig) } catch {
            throw Problem.invalidConfig(error.message, field: error.field)
        }
        let object: [String: Any]
        switch calibration {
        case nil, is NSNull:
            object = [:]
        case let dict as [String: Any]:
            object = dict
        default:
            throw Problem.invalidConfig("must be an object: {\"dataset_id\": …, \"calibration_method\": \"minmax\" or \"percentile\"}", field: "calibration")
        }
        if let unknown = object.keys.sorted().first(where: { !["dataset_id", "calibration_method", "percentile"].contains($0) }) {
            throw Problem.invalidConfig("unknown key; calibration takes dataset_id, calibration_method and percentile", field: "calibration.\(unknown)")
        }
        switch object["dataset_id"] {
        case nil, is NSNull:
            guard !requireDataset else {
                throw Problem.invalidConfig("activation quantization calibrates on your samples: upload them with POST /v1/datasets and give calibration.dataset_id",
                                            field: "calibration.dataset_id")
            }
            datasetID = nil
        case let id as String where !id.isEmpty:
            datasetID = id
        default:
            throw Problem.invalidConfig("must be a dataset id from POST /v1/datasets", field: "calibration.dataset_id")
        }
        method = try Self.method(object["calibration_method"], percentile: object["percentile"])
    }

    init(config: ActivationQuantizationConfig, datasetID: String?, method: CalibrationMethod) {
        self.config = config
        self.datasetID = datasetID
        self.method = method
    }

    /// `calibration_method` and `percentile` as given (also the CLI's flags).
    static func method(_ name: Any?, percentile: Any?) throws -> CalibrationMethod {
        let value: Double?
        switch percentile {
        case nil, is NSNull: value = nil
        case let n as NSNumber where String(cString: n.objCType) != "c" && n.doubleValue > 0 && n.doubleValue <= 100: value = n.doubleValue
        default: throw Problem.invalidConfig("must be a number in (0, 100], e.g. 99.99", field: "calibration.percentile")
        }
        switch name {
        case nil, is NSNull, "minmax" as String:
            guard value == nil else {
                throw Problem.invalidConfig("percentile applies to calibration_method \"percentile\"", field: "calibration.percentile")
            }
            return .minMax
        case "percentile" as String:
            return .percentile(value ?? CalibrationMethod.defaultPercentile)
        default:
            throw Problem.invalidConfig("must be \"minmax\" (the smallest and largest value seen, as coremltools and onnxruntime) or \"percentile\"",
                                        field: "calibration.calibration_method")
        }
    }

    /// The `calibration` object with every default spelled out.
    var calibrationDictionary: [String: Any] {
        var d: [String: Any] = [:]
        if let datasetID { d["dataset_id"] = datasetID }
        switch method {
        case .minMax: d["calibration_method"] = "minmax"
        case .percentile(let p):
            d["calibration_method"] = "percentile"
            d["percentile"] = p
        }
        return d
    }
}

/// What a format's compressor is handed: the config and the calibrated range of every
/// activation, by tensor name.
struct ActivationQuantizationPlan: Sendable {
    var config: ActivationQuantizationConfig
    var ranges: [String: TensorRange]
}
