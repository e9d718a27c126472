import Estimation
import Execution

/// The report's `evaluation` section: what running the float and the compressed model on the
/// user's samples measured, per output and per layer (the layers adding the most noise first).
public struct EvaluationReport: Codable, Sendable, Equatable {
    public struct Output: Codable, Sendable, Equatable {
        public var name: String
        /// `classifier`, `embedding` or `tensor`: which agreement figures apply.
        public var kind: String
        /// Null when the compressed model's output equals the float one exactly.
        public var snrDB: Double?
        public var cosine: Double?
        /// Null when `non_finite`.
        public var maxAbsError: Double?
        /// True when the compressed model produced NaN or infinity where the float one did not.
        public var nonFinite: Bool?
        /// Classifiers: share of samples whose top class is the float model's.
        public var top1Agreement: Double?
        /// Classifiers: share of samples whose float top class is among the compressed top 5.
        public var top5Agreement: Double?
        /// Embeddings: mean cosine of each sample's (or token's) vector pair.
        public var meanCosine: Double?

        enum CodingKeys: String, CodingKey {
            case name, kind, cosine
            case snrDB = "snr_db", maxAbsError = "max_abs_error", nonFinite = "non_finite", top1Agreement = "top1_agreement"
            case top5Agreement = "top5_agreement", meanCosine = "mean_cosine"
        }
    }

    public struct Layer: Codable, Sendable, Equatable {
        public var name: String
        public var opType: String
        public var output: String
        /// Null when the layer's output is unchanged by compression, or `non_finite`.
        public var snrDB: Double?
        /// The SNR of its noisiest input; null when its inputs were exact.
        public var inputSNRDB: Double?
        /// The noise the layer itself added, as noise-to-signal energy (output's less its noisiest
        /// input's): the order of the table.
        public var addedNoise: Double?
        public var nonFinite: Bool?

        enum CodingKeys: String, CodingKey {
            case name, output
            case opType = "op_type", snrDB = "snr_db", inputSNRDB = "input_snr_db", addedNoise = "added_noise"
            case nonFinite = "non_finite"
        }
    }

    public var datasetID: String?
    public var samples: Int
    /// Samples left out: a model with a fixed batch of B runs whole batches only.
    public var omittedSamples: Int
    public var seconds: Double
    public var outputs: [Output]
    public var layers: [Layer]

    enum CodingKeys: String, CodingKey {
        case samples, seconds, outputs, layers
        case datasetID = "dataset_id", omittedSamples = "omitted_samples"
    }

    public init(_ result: EvaluationResult, datasetID: String?, omittedSamples: Int) {
        self.datasetID = datasetID
        self.omittedSamples = omittedSamples
        samples = result.samples
        seconds = result.seconds
        outputs = result.outputs.map { output in
            let kind = switch output.kind {
            case .classifier: "classifier"
            case .embedding: "embedding"
            case .tensor: "tensor"
            }
            let error = output.error
            return Output(name: output.name, kind: kind, snrDB: Self.finite(error.snrDecibels), cosine: Self.finite(error.cosine),
                          maxAbsError: Self.finite(Double(error.maxAbsoluteError)), nonFinite: Self.nonFinite(error),
                          top1Agreement: output.agreement.top1Agreement, top5Agreement: output.agreement.top5Agreement,
                          meanCosine: output.agreement.meanCosine)
        }
        layers = result.layers.map { layer in
            Layer(name: layer.name, opType: layer.opType, output: layer.output, snrDB: Self.finite(layer.error.snrDecibels),
                  inputSNRDB: Self.finite(layer.inputSNRDecibels), addedNoise: Self.finite(layer.addedNoise),
                  nonFinite: Self.nonFinite(layer.error))
        }
    }

    /// JSON has no NaN or infinity: such a figure is left out, and `non_finite` says why.
    static func finite(_ value: Double?) -> Double? {
        value.flatMap { $0.isFinite ? $0 : nil }
    }

    static func nonFinite(_ error: ErrorAccumulator) -> Bool? {
        error.noiseEnergy.isFinite ? nil : true
    }

    /// The first classifier output's agreement, for the estimate's accuracy section.
    public var measuredAgreement: ModelEstimate.MeasuredAgreement? {
        guard let output = outputs.first(where: { $0.top1Agreement != nil }), let top1 = output.top1Agreement else { return nil }
        return .init(output: output.name, top1Agreement: top1, top5Agreement: output.top5Agreement, samples: samples, datasetID: datasetID)
    }
}
