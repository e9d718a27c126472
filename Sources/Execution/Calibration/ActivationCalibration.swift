import Foundation

/// Runs a float model on calibration batches and returns the range of every float activation
/// it computes (graph inputs included), by value name: what activation quantization turns into
/// scales and zero points.
///
/// Ranges are over all samples (coremltools up to 9.0 kept only the last sample's range; its
/// later fix, which quantd follows, takes the union). Nodes folded into constants are not
/// activations and have no range.
public enum ActivationCalibration {
    /// `tensors`, when given, limits the work to those values.
    public static func run(_ executor: Executor, batchCount: Int, batch: (Int) throws -> (inputs: [String: Tensor], samples: Int),
                           method: CalibrationMethod, tensors: Set<String>? = nil,
                           progress: (Double) -> Void = { _ in }, isCancelled: () -> Bool = { false }) throws -> [String: TensorRange] {
        let histogram: Bool = if case .percentile = method { true } else { false }
        var accumulators: [String: RangeAccumulator] = [:]
        func add(_ name: String, _ tensor: Tensor) {
            guard tensors?.contains(name) ?? true, case .float32(let floats) = tensor.elements else { return }
            floats.withUnsafeBufferPointer { accumulators[name, default: RangeAccumulator(histogram: histogram)].add($0) }
        }
        for index in 0..<batchCount {
            if isCancelled() { throw CancellationError() }
            let (inputs, _) = try batch(index)
            for (name, tensor) in inputs { add(name, tensor) }
            _ = try executor.run(inputs) { node, results in
                for (name, tensor) in zip(node.outputs, results) { add(name, tensor) }
            }
            progress(Double(index + 1) / Double(batchCount))
        }
        return accumulators.compactMapValues { $0.hasValues ? $0.range(method) : nil }
    }
}
