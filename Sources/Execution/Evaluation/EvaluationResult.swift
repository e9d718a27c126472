/// What running the float and the compressed model on the same samples showed: per output,
/// how close the compressed model stays; per layer, where it drifts (lowest SNR first).
public struct EvaluationResult: Sendable, Equatable {
    public struct Output: Sendable, Equatable {
        public let name: String
        public let kind: OutputKind
        public let error: ErrorAccumulator
        public let agreement: AgreementAccumulator
    }

    public struct Layer: Sendable, Equatable {
        /// The op's name in the compressed model, and its type as the model spells it.
        public let name: String
        public let opType: String
        /// The op's output compared (an op with several float outputs has a row for each).
        public let output: String
        public let error: ErrorAccumulator
    }

    public let samples: Int
    public let seconds: Double
    public let outputs: [Output]
    /// Lowest SNR first; layers whose outputs were identical last.
    public let layers: [Layer]
}
