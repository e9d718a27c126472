import ModelFormats

/// The `estimates` section of a report: what a compressed model costs and how it runs on
/// each device and compute-unit choice, against its float16 self, with bands.
public struct ModelEstimate: Codable, Sendable, Equatable {
    public struct Totals: Codable, Sendable, Equatable {
        public var parameters: Int
        public var macs: Int
        public var weightBytes: Int
        public var float16WeightBytes: Int
        public var peakActivationBytes: Int

        enum CodingKeys: String, CodingKey {
            case parameters, macs
            case weightBytes = "weight_bytes", float16WeightBytes = "float16_weight_bytes", peakActivationBytes = "peak_activation_bytes"
        }
    }

    public struct Accuracy: Codable, Sendable, Equatable {
        /// Predicted change in top-1 accuracy, points.
        public var topOneChange: Double
        public var band: Double
        public var largestContributors: [String]
        /// Where the model or config lies outside the rows the estimate was fitted to; each
        /// widened the band by the catalog's `extrapolation_band_factor`.
        public var outsideFit: [String] = []
        public var basis: String
        /// What running both models on the user's samples measured, when the job evaluated:
        /// shown first, the data-free estimate beside it.
        public var measured: MeasuredAgreement?

        enum CodingKeys: String, CodingKey {
            case band, basis, measured
            case topOneChange = "top1_change", largestContributors = "largest_contributors", outsideFit = "outside_fit"
        }
    }

    /// Agreement of the compressed model's top classes with the float model's on real samples.
    public struct MeasuredAgreement: Codable, Sendable, Equatable {
        public var output: String
        public var top1Agreement: Double
        public var top5Agreement: Double?
        public var samples: Int
        public var datasetID: String?

        public init(output: String, top1Agreement: Double, top5Agreement: Double?, samples: Int, datasetID: String?) {
            self.output = output
            self.top1Agreement = top1Agreement
            self.top5Agreement = top5Agreement
            self.samples = samples
            self.datasetID = datasetID
        }

        enum CodingKeys: String, CodingKey {
            case output, samples
            case top1Agreement = "top1_agreement", top5Agreement = "top5_agreement", datasetID = "dataset_id"
        }
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var device: String
        public var chip: String
        public var computeUnits: ComputeUnits
        /// The OS release whose Core ML runtime the latencies are for.
        public var os: OSRelease
        public var float16Milliseconds: Double
        public var compressedMilliseconds: Double
        public var speedup: Double
        /// ± percent on both latencies.
        public var bandPercent: Double
        /// `calibrated`, `scaled` or `uncalibrated`: how the latency figures were obtained.
        public var basis: String
        /// Weights resident while the model runs, plus the largest op's activations.
        public var float16MemoryBytes: Int
        public var compressedMemoryBytes: Int
        public var fallbackOps: Int
        /// Weight-only models: tokens a decoder produces per second (1000 / compressed_ms).
        public var tokensPerSecond: Double? = nil

        enum CodingKeys: String, CodingKey {
            case device, chip, speedup, basis, os
            case computeUnits = "compute_units", float16Milliseconds = "float16_ms", compressedMilliseconds = "compressed_ms"
            case bandPercent = "band_percent", float16MemoryBytes = "float16_memory_bytes"
            case compressedMemoryBytes = "compressed_memory_bytes", fallbackOps = "fallback_ops", tokensPerSecond = "tokens_per_second"
        }
    }

    public var totals: Totals
    public var accuracy: Accuracy?
    public var entries: [Entry]
    public var warnings: [String]
    /// What in this section is measured and what is estimated.
    public var basis: String
}

extension ModelEstimate.Accuracy {
    /// Reports stored before estimates named what lay outside their fit read as none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(topOneChange: try c.decode(Double.self, forKey: .topOneChange), band: try c.decode(Double.self, forKey: .band),
                  largestContributors: try c.decode([String].self, forKey: .largestContributors),
                  outsideFit: try c.decodeIfPresent([String].self, forKey: .outsideFit) ?? [],
                  basis: try c.decode(String.self, forKey: .basis), measured: try c.decodeIfPresent(ModelEstimate.MeasuredAgreement.self, forKey: .measured))
    }
}

extension ModelEstimate.Entry {
    /// Reports stored before estimates named their runtime were estimated from iOS 17 rows only.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(device: try c.decode(String.self, forKey: .device), chip: try c.decode(String.self, forKey: .chip),
                  computeUnits: try c.decode(ComputeUnits.self, forKey: .computeUnits),
                  os: try c.decodeIfPresent(OSRelease.self, forKey: .os) ?? .iOS17,
                  float16Milliseconds: try c.decode(Double.self, forKey: .float16Milliseconds),
                  compressedMilliseconds: try c.decode(Double.self, forKey: .compressedMilliseconds),
                  speedup: try c.decode(Double.self, forKey: .speedup), bandPercent: try c.decode(Double.self, forKey: .bandPercent),
                  basis: try c.decode(String.self, forKey: .basis), float16MemoryBytes: try c.decode(Int.self, forKey: .float16MemoryBytes),
                  compressedMemoryBytes: try c.decode(Int.self, forKey: .compressedMemoryBytes), fallbackOps: try c.decode(Int.self, forKey: .fallbackOps),
                  tokensPerSecond: try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond))
    }
}

/// Turns a graph (with its weights in their stored forms) and per-weight errors into a
/// `ModelEstimate` for a set of devices.
public struct Estimator: Sendable {
    public let catalog: DeviceCatalog

    public init(catalog: DeviceCatalog) {
        self.catalog = catalog
    }

    public static let basisNote = "Sizes, parameters and MACs are measured from the model. Latency, memory and accuracy are estimates from config/devices.json: 'calibrated' latencies come from parameters fitted to Apple's published measurements on that chip, 'scaled' ones carry those parameters to another chip by its hardware figures, 'uncalibrated' ones (CPU, GPU) rest on hardware figures and assumptions alone."

    public func estimate(graph: OpGraph, sqnrByWeight: [String: Double], devices: [DeviceProfile]? = nil,
                         units: [ComputeUnits] = ComputeUnits.allCases, int8Activations: Bool = false,
                         os: OSRelease = .newest) -> ModelEstimate {
        let cost = GraphCost(graph: graph, assumingInt8Activations: int8Activations)
        let latency = LatencyModel(parameters: catalog.latency)
        var entries: [ModelEstimate.Entry] = []
        for device in devices ?? catalog.devices {
            for choice in units {
                let base = latency.estimate(cost, on: device, units: choice, precision: .float16, os: os)
                let compressed = latency.estimate(cost, on: device, units: choice, precision: .compressed, os: os)
                let (band, basis) = self.band(device, processors: base.processors.union(compressed.processors))
                entries.append(ModelEstimate.Entry(
                    device: device.name, chip: device.chip, computeUnits: choice, os: os,
                    float16Milliseconds: base.milliseconds, compressedMilliseconds: compressed.milliseconds,
                    speedup: base.milliseconds / compressed.milliseconds, bandPercent: band, basis: basis,
                    float16MemoryBytes: cost.float16WeightBytes + cost.peakActivationBytes,
                    compressedMemoryBytes: residentWeightBytes(cost, device: device, units: choice) + cost.peakActivationBytes / (int8Activations ? 2 : 1),
                    fallbackOps: compressed.fallbackOps))
            }
        }
        let layers = AccuracyModel.layers(of: cost, sqnrByWeight: sqnrByWeight)
        var accuracy: ModelEstimate.Accuracy?
        // The model's own activation quantization, not the one int8_activations assumes.
        let int8Graph = graph.operations.contains { $0.type == "quantize" } && cost.operations.contains { $0.activations == .int8 }
        var warnings = EstimateWarnings.warnings(cost: cost, entries: entries, devices: devices ?? catalog.devices,
                                                 int8Activations: int8Activations || int8Graph, os: os)
        if layers.contains(where: { $0.sqnrDB != nil }) {
            let result = AccuracyModel(parameters: catalog.accuracy).estimate(layers)
            warnings += EstimateWarnings.accuracy(result, layers: layers)
            accuracy = .init(topOneChange: result.points, band: result.band, largestContributors: result.largestContributors.map(\.name),
                             outsideFit: result.extrapolations.map(\.description), basis: "data-free: per-layer SQNR weighted by layer sensitivity, fitted to Apple's published post-training rows" +
                                (int8Activations ? "; activation quantization needs calibration data and is not included" : "")
                                + (int8Graph ? "; the model's activation quantization is not included: its evaluation measures it" : ""))
        }
        return ModelEstimate(
            totals: .init(parameters: cost.parameters, macs: cost.macs, weightBytes: cost.weightBytes,
                          float16WeightBytes: cost.float16WeightBytes, peakActivationBytes: cost.peakActivationBytes),
            accuracy: accuracy, entries: entries,
            warnings: warnings,
            basis: Self.basisNote)
    }

    /// The band and basis of an estimate that ran on these processors: the widest applies.
    func band(_ device: DeviceProfile, processors: Set<ProcessorKind>) -> (Double, String) {
        if processors.contains(.cpu) || processors.contains(.gpu) { return (catalog.bands.uncalibratedPercent, "uncalibrated") }
        return catalog.isCalibrated(device) ? (catalog.bands.calibratedPercent, "calibrated") : (catalog.bands.scaledPercent, "scaled")
    }

    /// Weight bytes in memory while the model runs: stored forms where the unit keeps them
    /// compressed, float16 where it expands them at load.
    func residentWeightBytes(_ cost: GraphCost, device: DeviceProfile, units: ComputeUnits) -> Int {
        let (primary, fallback) = units.placement
        return cost.operations.reduce(0) { sum, op in
            guard let form = op.weightForm, form.isCompressed else { return sum + op.weightBytes }
            let unit = form.perBlock && !device.unit(primary).runsPerBlockWeights ? device.unit(fallback) : device.unit(primary)
            let kept = unit.decompressesJustInTime || (form.perBlock && unit.runsPerBlockWeights)
            return sum + (kept ? op.weightBytes : op.weightElements * 2)
        }
    }
}
