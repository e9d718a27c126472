import Foundation

/// Warnings a user can act on, drawn from an estimate.
enum EstimateWarnings {
    static func warnings(cost: GraphCost, entries: [ModelEstimate.Entry], devices: [DeviceProfile], int8Activations: Bool, os: OSRelease) -> [String] {
        var warnings: [String] = []
        let perBlock = cost.operations.filter { $0.weightForm?.perBlock == true }
        if !perBlock.isEmpty, entries.contains(where: { $0.fallbackOps > 0 }) {
            warnings.append("\(perBlock.count) ops with per-block weights (e.g. '\(perBlock[0].weightName ?? perBlock[0].name)') fall back from the Neural Engine to the GPU or CPU under compute units 'all' and 'cpuAndNeuralEngine': use per_channel granularity for Neural Engine targets; keep per_block for GPU targets")
        }
        if int8Activations {
            for device in devices where device.neuralEngine.int8Speedup.value < 1.3 {
                warnings.append(String(format: "W8A8 gains little on %@ (%@): its Neural Engine multiplies int8 ×%.2f as fast as float16, so only activation traffic shrinks; A17 Pro, M4 and later gain more", device.name, device.chip, device.neuralEngine.int8Speedup.value))
            }
            let slower = entries.filter { ($0.computeUnits == .cpuOnly || $0.computeUnits == .cpuAndGPU) && $0.speedup < 1 }
            if let first = slower.first {
                warnings.append(String(format: "W8A8 is estimated slower on the CPU and GPU (e.g. %@ %@: ×%.2f): they dequantize int8 activations; use it when the model runs on the Neural Engine", first.device, first.computeUnits.rawValue, first.speedup))
            }
        }
        let compressedWeights = cost.operations.filter { $0.weightForm?.isCompressed == true }
        if !compressedWeights.isEmpty, !compressedWeights.contains(where: { $0.weightForm?.perBlock == true }) {
            warnings.append("CPU and GPU expand these weights to float16 when the model loads: memory and latency gains there need per_block int4/int8 (iOS18) on the GPU; the Neural Engine keeps them compressed")
        }
        if os < .iOS18, compressedWeights.contains(where: { $0.activations != .int8 }) {
            warnings.append("on \(os.rawValue) / \(os.macOSName) the Neural Engine reads compressed weights at their float16 size (except int8 weights of ops it runs in int8): weight-only compression saves download size and memory but no latency there; iOS18 / macOS15 read them as stored")
        }
        return warnings
    }

    /// The layers that carry most of a predicted accuracy loss, when one dominates.
    static func accuracy(_ result: AccuracyModel.Result, layers: [AccuracyModel.Layer]) -> [String] {
        var warnings: [String] = []
        if !result.extrapolations.isEmpty {
            warnings.append("the accuracy estimate reaches beyond the published rows it was fitted to (\(result.extrapolations.map(\.description).joined(separator: "; "))): its band is widened; measure it on your own samples (evaluation.dataset_id)")
        }
        return warnings + dominantLayer(result, layers: layers)
    }

    private static func dominantLayer(_ result: AccuracyModel.Result, layers: [AccuracyModel.Layer]) -> [String] {
        guard result.points < -0.1, let top = result.largestContributors.first, top.share >= 0.25,
              let layer = layers.first(where: { $0.name == top.name }), let sqnr = layer.sqnrDB else { return [] }
        return [String(format: "'%@' (SQNR %.1f dB) carries %.0f%% of the predicted accuracy loss of %.2f points: leave it uncompressed (op_name_configs: {\"%@\": null}) or give it more bits", top.name, sqnr, top.share * 100, -result.points, top.name)]
    }
}
