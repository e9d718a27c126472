import Execution
import QuantCore

/// What an activation-quantization rewrite did, in any format: each tensor it quantizes with
/// the range and parameters it used and the ops reading it quantized, for the job's report and
/// the estimate.
public struct ActivationQuantizationSummary: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let range: TensorRange
        public let parameters: ActivationQuantizationParameters

        public init(name: String, range: TensorRange, parameters: ActivationQuantizationParameters) {
            self.name = name
            self.range = range
            self.parameters = parameters
        }
    }

    /// In program order, each tensor once (by its first quantization).
    public var tensors: [Tensor]
    /// Ops that read quantized inputs (run in int8 where the runtime fuses the pattern), by name.
    public var quantizedOps: [String]
    /// quantize and dequantize ops (or nodes) the rewrite added.
    public var insertedOps: Int

    public init(tensors: [Tensor] = [], quantizedOps: [String] = [], insertedOps: Int = 0) {
        self.tensors = tensors
        self.quantizedOps = quantizedOps
        self.insertedOps = insertedOps
    }
}
