import Estimation
import Foundation
import ModelFormats
import QuantCore

/// `quantd calibrate`: fits the device catalog to Apple's published measurements, or (without
/// `write`) checks the catalog against them, printing every published row beside its estimate.
///
/// The published models are rebuilt as fixture packages (Tests/oracle/fixtures/
/// make_reference_nets.py); each row's config is applied with quantd's own compressor, so the
/// graph carries the real stored forms and the accuracy model the real per-layer SQNR.
public enum EstimateCalibration {
    /// One published measurement: a config of a model, the OS release it ran on, its latency
    /// per device and its top-1 beside the float16 model's.
    struct PublishedRow {
        let model: String
        let config: String
        let workflow: String
        let os: OSRelease
        let latency: [(device: String, milliseconds: Double)]
        let top1: Double?
        let baselineTop1: Double?
    }

    /// The rows of a published-results file: per-model rows measured on several devices
    /// (`rows`, published-results.json), or one model on one device with separate latency
    /// and accuracy rows (`latency_rows`/`accuracy_rows`, published-results-ios18.json).
    static func publishedRows(_ data: Data) throws -> [PublishedRow] {
        struct File: Decodable {
            struct Row: Decodable {
                let model: String?
                let config: String
                let workflow: String?
                let top1: Double?
                let latency_ms: LatencyValue?
            }
            enum LatencyValue: Decodable {
                case perDevice([String: Double]), one(Double)
                init(from decoder: any Decoder) throws {
                    let c = try decoder.singleValueContainer()
                    if let v = try? c.decode(Double.self) { self = .one(v) } else { self = .perDevice(try c.decode([String: Double].self)) }
                }
            }
            let os: String?
            let model: String?
            let device: String?
            let rows: [Row]?
            let latency_rows: [Row]?
            let accuracy_rows: [Row]?
        }
        let file = try JSONDecoder().decode(File.self, from: data)
        // published-results.json predates the OS field: its rows are iOS 17's (its `about`).
        guard let os = OSRelease(name: file.os ?? "iOS17") else { throw Problem.invalidRequest("unknown OS release '\(file.os ?? "")'") }
        func latency(_ row: File.Row) -> [(device: String, milliseconds: Double)] {
            switch row.latency_ms {
            case .perDevice(let byDevice)?: byDevice.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            case .one(let ms)?: file.device.map { [($0, ms)] } ?? []
            case nil: []
            }
        }
        var rows: [PublishedRow] = []
        let all = (file.rows ?? []) + (file.latency_rows ?? []).map { File.Row(model: $0.model, config: $0.config, workflow: $0.workflow, top1: nil, latency_ms: $0.latency_ms) }
            + (file.accuracy_rows ?? []).map { File.Row(model: $0.model, config: $0.config, workflow: $0.workflow, top1: $0.top1, latency_ms: nil) }
        for row in all {
            guard let model = row.model ?? file.model else { throw Problem.invalidRequest("published row '\(row.config)' names no model") }
            let baseline = all.first { ($0.model ?? file.model) == model && $0.config == "float16" && $0.top1 != nil }?.top1
            rows.append(PublishedRow(model: model, config: row.config, workflow: row.workflow ?? "n/a", os: os, latency: latency(row),
                                     top1: row.top1, baselineTop1: baseline))
        }
        return rows
    }

    /// What a published config means to quantd: the compression applied (nil = the float16
    /// model) and whether activations are int8.
    static func plan(_ config: String) throws -> (pipeline: CompressionPipeline?, int8Activations: Bool)? {
        let c = config.lowercased()
        if c == "float16" { return (nil, false) }
        if c.hasPrefix("w8a8") { return (try APIResponder.preset("w8").config, true) }
        if c.hasPrefix("w8") { return (try APIResponder.preset("w8").config, false) }
        if c.hasPrefix("palettize "), let bits = c.dropFirst(10).split(separator: "-").first.flatMap({ Int($0) }) {
            return (CompressionPipeline(OptimizationConfig(configType: "OpPalettizerConfig", global: .palettization(PalettizationConfig(nbits: bits)))), false)
        }
        if c.hasPrefix("prune "), let percent = c.dropFirst(6).split(separator: "%").first.flatMap({ Double($0) }) {
            let pruning = try PruningConfig.magnitude(targetSparsity: percent / 100)
            return (CompressionPipeline(OptimizationConfig(configType: pruning.configType, global: .pruning(pruning))), false)
        }
        return nil
    }

    struct Variant {
        let cost: GraphCost
        /// The same model's cost with coremltools' activation quantization assumed.
        let int8Cost: GraphCost
        let sqnrByWeight: [String: Double]
    }

    /// The model compressed by `preset` in memory (nothing written), or as uploaded when nil.
    static func variant(_ bytes: UnsafeRawBufferPointer, preset: String?) throws -> Variant {
        try variant(bytes, pipeline: preset.map { try APIResponder.preset($0).config })
    }

    /// `os` raises the model's opset to that release's, as a user targeting it would: iOS 18
    /// brings compressed forms (3-bit LUTs, grouped LUTs) iOS 17 cannot store.
    static func variant(_ bytes: UnsafeRawBufferPointer, pipeline: CompressionPipeline?, os: OSRelease = .iOS17) throws -> Variant {
        guard let pipeline else {
            let graph = try CoreMLCompressor.open(bytes).1.opGraph
            return Variant(cost: GraphCost(graph: graph), int8Cost: GraphCost(graph: graph, assumingInt8Activations: true), sqnrByWeight: [:])
        }
        let outcome = try CoreMLCompressor(pipeline: pipeline, minimumDeploymentTarget: os.opset).compress(bytes, to: { _ in }, progress: { _ in }, isCancelled: { false })
        return Variant(cost: GraphCost(graph: outcome.graph!), int8Cost: GraphCost(graph: outcome.graph!, assumingInt8Activations: true),
                       sqnrByWeight: outcome.sqnrByWeight)
    }

    /// Every published row beside its estimate, in sample (the catalog's fit saw the row) and
    /// left out (a fit to all the other rows), and whether the targets are met. The targets
    /// are on the left-out figures: what a user's model, which no fit has seen, can expect.
    public struct Validation {
        public struct Row {
            public let label: String
            public let published: Double
            public let estimate: Double
            public let band: Double?

            var percentError: Double { abs(estimate - published) / published * 100 }
            var covered: Bool { band.map { abs(estimate - published) <= $0 } ?? false }
        }

        public let latency: [Row]
        public let accuracy: [Row]
        public var heldOutLatency: [Row] = []
        public var heldOutAccuracy: [Row] = []

        public static let latencyMAPETarget = 12.0, worstLatencyTarget = 30.0, coverageTarget = 0.8

        static func mape(_ rows: [Row]) -> Double { rows.map(\.percentError).reduce(0, +) / Double(max(rows.count, 1)) }
        /// Leave-one-out latency MAPE, percent: the headline.
        public var heldOutLatencyMAPE: Double { Self.mape(heldOutLatency) }
        public var worstHeldOutLatencyPercent: Double { heldOutLatency.map(\.percentError).max() ?? 0 }
        public var latencyMAPE: Double { Self.mape(latency) }
        /// Share of left-out accuracy rows whose published change lies inside the band.
        public var heldOutCoverage: Double { Double(heldOutAccuracy.filter(\.covered).count) / Double(max(heldOutAccuracy.count, 1)) }
        public var coverage: Double { Double(accuracy.filter(\.covered).count) / Double(max(accuracy.count, 1)) }
        public var meetsTargets: Bool {
            heldOutLatencyMAPE <= Self.latencyMAPETarget && worstHeldOutLatencyPercent <= Self.worstLatencyTarget
                && heldOutCoverage >= Self.coverageTarget
        }
    }

    public static func run(fixtures: String, published publishedPaths: [String], devices devicesPath: String, write: Bool) throws -> Validation {
        var published: [PublishedRow] = []
        for path in publishedPaths { published += try publishedRows(Data(contentsOf: URL(fileURLWithPath: path))) }
        var catalog = try DeviceCatalog(json: Data(contentsOf: URL(fileURLWithPath: devicesPath)))
        var latencyRows: [Calibration.LatencyRow] = []
        var accuracyRows: [Calibration.AccuracyRow] = []
        for model in Array(Set(published.map(\.model))).sorted() {
            let path = "\(fixtures)/\(model).mlpackage.zip"
            let mapping = try MemoryMappedFile(path: path, accessPattern: .willNeed)
            var variants: [String: Variant] = [:]
            for row in published where row.model == model {
                guard let plan = try plan(row.config) else { throw Problem.invalidRequest("no quantd plan for published config '\(row.config)'") }
                let key = (plan.pipeline.map { String(describing: $0) } ?? "float16") + " · \(row.os)"
                if variants[key] == nil { variants[key] = try mapping.withBytes { try variant($0, pipeline: plan.pipeline, os: row.os) } }
                let v = variants[key]!
                let label = "\(model) · \(row.config) (\(row.workflow)) · \(row.os.rawValue)"
                for (device, ms) in row.latency {
                    guard let chip = catalog.device(named: device)?.chip else { throw Problem.invalidRequest("device '\(device)' is not in the catalog") }
                    latencyRows.append(.init(label: "\(label) · \(device)", chip: chip, os: row.os,
                                             precision: plan.pipeline == nil ? .float16 : .compressed,
                                             publishedMilliseconds: ms, cost: plan.int8Activations ? v.int8Cost : v.cost))
                }
                // Only post-training rows: training-time accuracy is out of quantd's reach.
                if row.workflow == "ptq", let top1 = row.top1, let baseline = row.baselineTop1 {
                    accuracyRows.append(.init(label: label, layers: AccuracyModel.layers(of: v.cost, sqnrByWeight: v.sqnrByWeight),
                                              publishedPoints: top1 - baseline))
                }
            }
        }
        if write {
            catalog = Calibration.fitLatency(latencyRows, catalog: catalog)
            catalog.accuracy = Calibration.fitAccuracy(accuracyRows, parameters: catalog.accuracy)
            var data = try catalog.json()
            data.append(0x0A)
            try data.write(to: URL(fileURLWithPath: devicesPath), options: .atomic)
        }
        let model = AccuracyModel(parameters: catalog.accuracy)
        var validation = Validation(
            latency: latencyRows.map { .init(label: $0.label, published: $0.publishedMilliseconds,
                                             estimate: Calibration.estimate($0, catalog: catalog) ?? .nan, band: nil) },
            accuracy: accuracyRows.map { row in
                let result = model.estimate(row.layers)
                return .init(label: row.label, published: row.publishedPoints, estimate: result.points, band: result.band)
            })
        validation.heldOutLatency = Calibration.leaveOneOut(latencyRows, catalog: catalog).map {
            .init(label: $0.row.label, published: $0.row.publishedMilliseconds, estimate: $0.estimate, band: nil)
        }
        validation.heldOutAccuracy = accuracyRows.indices.map { i in
            var others = accuracyRows
            let held = others.remove(at: i)
            let result = AccuracyModel(parameters: Calibration.fitAccuracy(others, parameters: catalog.accuracy)).estimate(held.layers)
            return .init(label: held.label, published: held.publishedPoints, estimate: result.points, band: result.band)
        }
        return validation
    }

    public static func text(_ v: Validation) -> String {
        func latencyTable(_ rows: [Validation.Row]) -> [String] {
            [pad("row", 84) + pad("published", 11) + pad("estimate", 11) + "error"] + rows.map { row in
                pad(row.label, 84) + pad(String(format: "%.2f", row.published), 11)
                    + pad(String(format: "%.3f", row.estimate), 11) + String(format: "%+.1f%%", (row.estimate - row.published) / row.published * 100)
            }
        }
        func accuracyTable(_ rows: [Validation.Row]) -> [String] {
            [pad("row", 84) + pad("published", 11) + pad("estimate", 20) + pad("error", 9) + "inside band"] + rows.map { row in
                pad(row.label, 84) + pad(String(format: "%+.2f", row.published), 11)
                    + pad(String(format: "%+.2f ± %.2f", row.estimate, row.band ?? 0), 20)
                    + pad(String(format: "%+.2f", row.estimate - row.published), 9) + (row.covered ? "yes" : "NO")
            }
        }
        let pass = { (ok: Bool) in ok ? "PASS" : "FAIL" }
        var lines = ["Latency, leave-one-out: each row estimated by a fit to all the other rows (compute units ALL; published = Apple's median ms)", ""]
        lines += latencyTable(v.heldOutLatency)
        lines += ["", String(format: "leave-one-out MAPE %.1f%% over %d rows (target ≤ %.0f%%), worst row %.1f%% (target ≤ %.0f%%): %@",
                             v.heldOutLatencyMAPE, v.heldOutLatency.count, Validation.latencyMAPETarget, v.worstHeldOutLatencyPercent,
                             Validation.worstLatencyTarget,
                             pass(v.heldOutLatencyMAPE <= Validation.latencyMAPETarget && v.worstHeldOutLatencyPercent <= Validation.worstLatencyTarget))]
        lines += ["", "Latency, in sample (the catalog's fit saw every row)", ""]
        lines += latencyTable(v.latency)
        lines += ["", String(format: "in-sample MAPE %.1f%%, worst row %.1f%%", v.latencyMAPE, v.latency.map(\.percentError).max() ?? 0)]
        lines += ["", "Accuracy, leave-one-out (post-training rows; change in ImageNet top-1, points; band as the estimate states it)", ""]
        lines += accuracyTable(v.heldOutAccuracy)
        lines += ["", String(format: "leave-one-out band coverage %.0f%% of %d rows (target ≥ %.0f%%): %@", v.heldOutCoverage * 100,
                             v.heldOutAccuracy.count, Validation.coverageTarget * 100, pass(v.heldOutCoverage >= Validation.coverageTarget))]
        lines += ["", "Accuracy, in sample", ""]
        lines += accuracyTable(v.accuracy)
        lines += ["", String(format: "in-sample band coverage %.0f%%", v.coverage * 100)]
        return lines.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
