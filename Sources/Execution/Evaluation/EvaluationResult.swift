/// What running the float and the compressed model on the same samples showed: per output,
/// how close the compressed model stays; per layer, where it drifts (the most added noise first).
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
        /// The SNR of the op's noisiest compared input; nil when every input was exact (graph
        /// inputs, constants, or activations compression left unchanged).
        public let inputSNRDecibels: Double?
        /// Noise this op added: its output's noise-to-signal ratio less its noisiest input's.
        /// What the table is ordered by, since an error carried downstream leaves every later
        /// layer with a low SNR while only the layer that caused it adds much.
        public let addedNoise: Double
    }

    public let samples: Int
    public let seconds: Double
    public let outputs: [Output]
    /// The layers that add the most noise first (see `Layer.addedNoise`).
    public let layers: [Layer]
}
