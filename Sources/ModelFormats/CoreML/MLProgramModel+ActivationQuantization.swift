import Execution
import QuantCore

extension MLProgramModel {
    /// The ops coremltools quantizes activations around, and so the ops a W8A8 program runs in
    /// int8: the estimator reads a model's int8 regions by them.
    public static let activationQuantizedOpTypes: Set<String> = ["conv", "linear", "avg_pool", "max_pool", "add"]

    /// Inserts coremltools' activation `quantize`/`dequantize` pairs into every function's
    /// active block (`MILActivationQuantizer`), given each activation's calibrated range by
    /// value name. The program must already target iOS17 or later, where those ops exist.
    public mutating func quantizeActivations(_ config: ActivationQuantizationConfig,
                                             ranges: [String: TensorRange]) throws(MLProgramError) -> ActivationQuantizationSummary {
        guard let opset, opset >= .iOS17 else { throw .activationQuantizationNeedsIOS17(opset) }
        var summary = ActivationQuantizationSummary()
        var program = specification.mlProgram
        for name in program.functions.keys.sorted() {
            var function = program.functions[name]!
            guard let block = function.blockSpecializations[function.opset] else { continue }
            var quantizer = MILActivationQuantizer(block: block, inputs: function.inputs, config: config, ranges: ranges)
            quantizer.run()
            function.blockSpecializations[function.opset]!.operations = quantizer.operations
            program.functions[name] = function
            summary.tensors += quantizer.summary.tensors
            summary.quantizedOps += quantizer.summary.quantizedOps
            summary.insertedOps += quantizer.summary.insertedOps
        }
        specification.mlProgram = program
        return summary
    }
}
