/// Op-level roofline latency: each op is bounded by its compute, its activation traffic or
/// its weight traffic, whichever is slowest, plus a dispatch overhead; batch norm and
/// activations fused into their producer cost nothing.
///
/// Weight-only compression therefore helps only where weight bytes bound an op, and only on
/// units that keep weights compressed (the Neural Engine expands them just in time, paying a
/// small cost per weight; CPU and GPU expand them to float16 at load). Whether the Neural
/// Engine reads them compressed, and how fast it streams them, depends on the OS release. Ops the graph runs in int8 (its own
/// quantize/dequantize ops, or the op selection `GraphCost` assumes for `int8_activations`)
/// halve activation traffic and speed up products where the unit multiplies int8 faster; on
/// units without int8 kernels they add a dequantize pass instead. Where int8 and float regions
/// meet, a transition costs a pass over the tensor. Ops whose weights are
/// per-block quantized leave a unit that cannot run them, paying a transition each way.
/// Highly sparse weights (Apple: 75% or more) let the Neural Engine skip their products.
public struct LatencyModel: Sendable {
    public let parameters: LatencyParameters

    public init(parameters: LatencyParameters) {
        self.parameters = parameters
    }

    /// How weights and activations are stored for one estimate.
    public enum Precision: Sendable, Equatable {
        /// Every weight dense float16 and every activation float16: the baseline.
        case float16
        /// Weights as the graph stores them, activations in int8 where the graph says so.
        case compressed

        var weightsAsStored: Bool { self == .compressed }
    }

    public struct Result: Sendable, Equatable {
        public let milliseconds: Double
        /// Ops that ran on the fallback unit because the primary one cannot run their weights.
        public let fallbackOps: Int
        /// Processors that ran at least one op.
        public let processors: Set<ProcessorKind>
    }

    public func estimate(_ cost: GraphCost, on device: DeviceProfile, units: ComputeUnits, precision: Precision,
                         os: OSRelease = .newest) -> Result {
        let (primary, fallback) = units.placement
        var seconds = parameters.unit(primary, os: os).fixedOverheadMilliseconds.value * 1e-3
        var fallbackOps = 0
        var previous: ProcessorKind?
        var used: Set<ProcessorKind> = []
        for op in cost.operations where op.category != .fusedElementwise {
            // The float16 baseline has no quantize/dequantize ops; inside int8 regions they are free.
            if op.activations == .absorbed || (op.activations == .transition && !precision.weightsAsStored) { continue }
            var processor = primary
            if precision.weightsAsStored, let form = op.weightForm, form.perBlock, !device.unit(primary).runsPerBlockWeights {
                processor = fallback
                fallbackOps += 1
            }
            if let previous, previous != processor { seconds += parameters.transitionMicroseconds.value * 1e-6 }
            previous = processor
            used.insert(processor)
            seconds += opSeconds(op, on: device, processor: processor, precision: precision, os: os)
        }
        return Result(milliseconds: seconds * 1e3, fallbackOps: fallbackOps, processors: used)
    }

    func opSeconds(_ op: GraphCost.Operation, on device: DeviceProfile, processor: ProcessorKind, precision: Precision, os: OSRelease) -> Double {
        let unit = device.unit(processor)
        let p = parameters.unit(processor, os: os)
        let bandwidth = device.memoryGBps.value * 1e9
        let int8 = precision.weightsAsStored && op.activations == .int8
        var throughput = unit.fp16TFLOPS.value * 1e12 * p.efficiency.value
        if op.category == .depthwise { throughput *= p.depthwiseEfficiency.value }
        if int8 { throughput *= unit.int8Speedup.value }
        var macs = Double(op.macs)
        if precision.weightsAsStored, let density = op.weightForm?.density, density <= p.sparseSkipDensity.value { macs *= density }
        let compute = 2 * macs / throughput

        // Without int8 kernels the activations are dequantized and requantized around each op.
        let activationScale = int8 ? (unit.runsInt8 ? 0.5 : 1.5) : 1
        let activations = Double(op.activationBytes) * activationScale / (bandwidth * p.activationBandwidthFactor.value)

        let compressed = precision.weightsAsStored && (op.weightForm?.isCompressed ?? false)
        // An op running in int8 multiplies its int8 weights as stored: nothing to expand.
        let native = int8 && op.weightForm?.kind == .linear && op.weightForm?.bits == 8 && unit.runsInt8
        let streamed = compressed && ((unit.decompressesJustInTime && (p.streamsCompressedWeights || native))
            || (op.weightForm!.perBlock && unit.runsPerBlockWeights))
        let weightBytes = streamed ? Double(op.weightBytes) : Double(op.weightElements * 2)
        let weights = weightBytes / (bandwidth * p.weightBandwidthFactor.value)
        let expand = compressed && unit.decompressesJustInTime && !native
            ? Double(op.weightElements) * p.decompressionNanosecondsPerWeight.value * 1e-9 : 0
        // A transition converts a tensor beside the op it feeds: its bytes, not another dispatch.
        let overhead = op.activations == .transition ? 0 : p.opOverheadMicroseconds.value * 1e-6
        return max(compute, activations, weights) + expand + overhead
    }
}
