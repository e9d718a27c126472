import ModelFormats

/// Weight-only models (a transformer language model's safetensors) have no graph to cost, but
/// decoding one token reads every weight once: time per token is the resident weight bytes
/// over the bandwidth the unit streams them at, and memory is those bytes.
extension Estimator {
    public struct Weight: Sendable {
        public var name: String
        public var elements: Int
        public var storedBytes: Int
        public var form: StoredWeightForm
        public var sqnrDB: Double?

        public init(name: String, elements: Int, storedBytes: Int, form: StoredWeightForm, sqnrDB: Double?) {
            self.name = name
            self.elements = elements
            self.storedBytes = storedBytes
            self.form = form
            self.sqnrDB = sqnrDB
        }
    }

    public static let decodeBasisNote = "Weight-only model: no op graph, so latency is per decoded token (every weight read once, at the unit's streaming bandwidth from config/devices.json) and memory is the resident weights. Both are estimates; sizes are measured."

    public func estimateDecode(_ weights: [Weight], devices: [DeviceProfile]? = nil,
                               units: [ComputeUnits] = ComputeUnits.allCases, os: OSRelease = .newest) -> ModelEstimate {
        let efficiency = catalog.latency.decodeBandwidthEfficiency.value
        var entries: [ModelEstimate.Entry] = []
        let float16Bytes = weights.reduce(0) { $0 + $1.elements * 2 }
        for device in devices ?? catalog.devices {
            let bandwidth = device.memoryGBps.value * 1e9 * efficiency
            for choice in units {
                let primary = device.unit(choice.placement.primary)
                let resident = weights.reduce(0) { sum, w in
                    let kept = w.form.isCompressed && (primary.decompressesJustInTime || (w.form.perBlock && primary.runsPerBlockWeights))
                    return sum + (kept || !w.form.isCompressed ? w.storedBytes : w.elements * 2)
                }
                let base = Double(float16Bytes) / bandwidth * 1e3, compressed = Double(resident) / bandwidth * 1e3
                entries.append(.init(device: device.name, chip: device.chip, computeUnits: choice, os: os, float16Milliseconds: base,
                                     compressedMilliseconds: compressed, speedup: base / compressed,
                                     bandPercent: catalog.bands.uncalibratedPercent, basis: "uncalibrated",
                                     float16MemoryBytes: float16Bytes, compressedMemoryBytes: resident, fallbackOps: 0,
                                     tokensPerSecond: 1e3 / compressed))
            }
        }
        let layers = weights.enumerated().map { index, w in
            AccuracyModel.Layer(name: w.name, sqnrDB: w.sqnrDB, isDepthwise: false, isEdge: index == 0 || index == weights.count - 1,
                                isAttentionProjection: AccuracyModel.isAttentionProjection(w.name), form: w.form)
        }
        var accuracy: ModelEstimate.Accuracy?
        var warnings: [String] = []
        if layers.contains(where: { $0.sqnrDB != nil }) {
            let result = AccuracyModel(parameters: catalog.accuracy).estimate(layers)
            accuracy = .init(topOneChange: result.points, band: result.band, largestContributors: result.largestContributors.map(\.name),
                             outsideFit: result.extrapolations.map(\.description), basis: "data-free, calibrated on image classifiers: for a language model read it as a relative risk, not a task metric")
            warnings += EstimateWarnings.accuracy(result, layers: layers)
        }
        if weights.contains(where: { $0.form.isCompressed && !$0.form.perBlock }) {
            warnings.append("the GPU expands per-channel and palettized weights to float16 at load, so decode speed and memory there do not improve: use per_block int4 (iOS18) for GPU decoding")
        }
        return ModelEstimate(
            totals: .init(parameters: weights.reduce(0) { $0 + $1.elements }, macs: 0, weightBytes: weights.reduce(0) { $0 + $1.storedBytes },
                          float16WeightBytes: float16Bytes, peakActivationBytes: 0),
            accuracy: accuracy, entries: entries, warnings: warnings, basis: Self.decodeBasisNote)
    }
}
