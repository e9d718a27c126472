import Compression
import Estimation
import ModelFormats

/// What a compressor returns for a whole model, whatever its format.
struct CompressionOutcome {
    var tensors: [CompressionReport.Tensor]
    var warnings: [String]
    var artifactBytes: Int
    /// Opening the model before compressing (a package's manifest and program, a stored weight
    /// file's checksum); a deflated weight file inflates during `encodeSeconds`, and
    /// safetensors weights are read as they are compressed (0).
    var readSeconds: Double = 0
    /// Compressing every tensor in memory, before the artifact is written.
    var encodeSeconds: Double
    /// The compressed model's op graph with weights in their new forms, where the format has one.
    var graph: OpGraph? = nil
    /// Each tensor's form, in the order of `tensors`: what the estimator costs.
    var forms: [CompressedForm]
    /// The artifact's file name ending (`.safetensors`, `.mlpackage.zip`, `.onnx`, `.onnx.zip`).
    var artifactExtension: String
    /// What activation quantization inserted, when the job asked for it.
    var activationQuantization: ActivationQuantizationSummary? = nil

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// Each compressed weight's SQNR, by weight name, for the accuracy estimate.
    var sqnrByWeight: [String: Double] {
        tensors.reduce(into: [:]) { map, tensor in
            if tensor.action == "compressed", let sqnr = tensor.sqnrDB { map[tensor.name] = sqnr }
        }
    }

    /// Per-device estimates: from the graph where the format has one, else per decoded token.
    func estimates(catalog: DeviceCatalog, devices: [DeviceProfile]? = nil, units: [ComputeUnits] = ComputeUnits.allCases,
                   int8Activations: Bool = false, os: OSRelease = .newest) -> ModelEstimate {
        let estimator = Estimator(catalog: catalog)
        if let graph {
            return estimator.estimate(graph: graph, sqnrByWeight: sqnrByWeight, devices: devices, units: units, int8Activations: int8Activations, os: os)
        }
        let weights = zip(tensors, forms).map { t, form in
            Estimator.Weight(name: t.name, elements: t.shape.reduce(1, *), storedBytes: t.bytesAfter,
                             form: StoredWeightForm(form, denseBits: t.dtype.contains("32") ? 32 : 16),
                             sqnrDB: form.isCompressed ? t.sqnrDB : nil)
        }
        return estimator.estimateDecode(weights, devices: devices, units: units, os: os)
    }
}
