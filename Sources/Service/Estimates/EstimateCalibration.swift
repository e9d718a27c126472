import Estimation
import Foundation
import ModelFormats

/// `quantd calibrate`: fits the device catalog to Apple's published measurements, or (without
/// `write`) checks the catalog against them, printing every published row beside its estimate.
///
/// The published models are rebuilt as fixture packages (Tests/oracle/fixtures/
/// make_reference_nets.py); each row's config is applied with quantd's own compressor, so the
/// graph carries the real stored forms and the accuracy model the real per-layer SQNR.
public enum EstimateCalibration {
    public struct Published: Decodable {
        struct Row: Decodable {
            let model: String
            let config: String
            let workflow: String
            let top1: Double?
            let latency_ms: [String: Double]?
        }
        let rows: [Row]
    }

    /// What a published config string means to quantd: a preset, and whether activations are int8.
    static func plan(_ config: String) -> (preset: String?, int8Activations: Bool)? {
        let c = config.lowercased()
        if c == "float16" { return (nil, false) }
        if c.hasPrefix("w8a8") { return ("w8", true) }
        if c.hasPrefix("w8") { return ("w8", false) }
        if c.hasPrefix("palettize "), let bits = c.dropFirst(10).split(separator: "-").first, Int(bits) != nil {
            return ("palettize-\(bits)", false)
        }
        return nil
    }

    struct Variant {
        let cost: GraphCost
        let sqnrByWeight: [String: Double]
    }

    /// The model compressed by `preset` in memory (nothing written), or as uploaded when nil.
    static func variant(_ bytes: UnsafeRawBufferPointer, preset: String?) throws -> Variant {
        guard let preset else {
            return Variant(cost: GraphCost(graph: try CoreMLCompressor.open(bytes).1.opGraph), sqnrByWeight: [:])
        }
        let outcome = try CoreMLCompressor(pipeline: try APIResponder.preset(preset).config)
            .compress(bytes, to: { _ in }, progress: { _ in }, isCancelled: { false })
        return Variant(cost: GraphCost(graph: outcome.graph!), sqnrByWeight: outcome.sqnrByWeight)
    }

    /// Every published row beside its estimate, and whether the issue's targets are met.
    public struct Validation {
        public struct Row {
            public let label: String
            public let published: Double
            public let estimate: Double
            public let band: Double?
        }

        public let latency: [Row]
        public let accuracy: [Row]
        /// Each row estimated by a fit to all the other rows (leave-one-out), when asked for:
        /// how the estimators do on a measurement they were not fitted to.
        public var heldOutLatency: [Row] = []
        public var heldOutAccuracy: [Row] = []

        /// Mean absolute percentage error of the latency rows.
        public var latencyMAPE: Double { latency.map { abs($0.estimate - $0.published) / $0.published * 100 }.reduce(0, +) / Double(max(latency.count, 1)) }
        public var worstLatencyPercent: Double { latency.map { abs($0.estimate - $0.published) / $0.published * 100 }.max() ?? 0 }
        public var worstAccuracyPoints: Double { accuracy.map { abs($0.estimate - $0.published) }.max() ?? 0 }
        public var meetsTargets: Bool { latencyMAPE <= 10 && worstLatencyPercent <= 20 && worstAccuracyPoints <= 0.3 }
    }

    public static func run(fixtures: String, published publishedPath: String, devices devicesPath: String, write: Bool,
                           crossValidate: Bool = false) throws -> Validation {
        let published = try JSONDecoder().decode(Published.self, from: Data(contentsOf: URL(fileURLWithPath: publishedPath)))
        var catalog = try DeviceCatalog(json: Data(contentsOf: URL(fileURLWithPath: devicesPath)))
        var latencyRows: [Calibration.LatencyRow] = []
        var accuracyRows: [Calibration.AccuracyRow] = []
        for model in Array(Set(published.rows.map(\.model))).sorted() {
            let path = "\(fixtures)/\(model).mlpackage.zip"
            let mapping = try MemoryMappedFile(path: path, accessPattern: .willNeed)
            let baseline = published.rows.first { $0.model == model && $0.config == "float16" }?.top1
            var variants: [String: Variant] = [:]
            for row in published.rows where row.model == model {
                guard let plan = plan(row.config) else { throw Problem.invalidRequest("no quantd plan for published config '\(row.config)'") }
                let key = plan.preset ?? "float16"
                if variants[key] == nil { variants[key] = try mapping.withBytes { try variant($0, preset: plan.preset) } }
                let v = variants[key]!
                let label = "\(model) · \(row.config) (\(row.workflow))"
                for (device, ms) in (row.latency_ms ?? [:]).sorted(by: { $0.key < $1.key }) {
                    guard let chip = catalog.device(named: device)?.chip else { throw Problem.invalidRequest("device '\(device)' is not in the catalog") }
                    latencyRows.append(.init(label: "\(label) · \(device)", chip: chip,
                                             precision: .init(weightsAsStored: plan.preset != nil, int8Activations: plan.int8Activations),
                                             publishedMilliseconds: ms, cost: v.cost))
                }
                // Only post-training rows: training-time accuracy is out of quantd's reach.
                if row.workflow == "ptq", let top1 = row.top1, let baseline {
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
        if crossValidate {
            validation.heldOutLatency = Calibration.leaveOneOut(latencyRows, catalog: catalog).map {
                .init(label: $0.row.label, published: $0.row.publishedMilliseconds, estimate: $0.estimate, band: nil)
            }
            validation.heldOutAccuracy = accuracyRows.indices.map { i in
                var others = accuracyRows
                let held = others.remove(at: i)
                let result = AccuracyModel(parameters: Calibration.fitAccuracy(others, parameters: catalog.accuracy)).estimate(held.layers)
                return .init(label: held.label, published: held.publishedPoints, estimate: result.points, band: result.band)
            }
        }
        return validation
    }

    public static func text(_ v: Validation) -> String {
        var lines = ["Latency (compute units ALL; published = Apple's measurement, median ms)", ""]
        lines.append(pad("row", 72) + pad("published", 11) + pad("estimate", 11) + "error")
        for row in v.latency {
            lines.append(pad(row.label, 72) + pad(String(format: "%.2f", row.published), 11)
                         + pad(String(format: "%.3f", row.estimate), 11) + String(format: "%+.1f%%", (row.estimate - row.published) / row.published * 100))
        }
        lines.append("")
        lines.append(String(format: "MAPE %.1f%% over %d rows (target ≤ 10%%), worst row %.1f%% (target ≤ 20%%): %@", v.latencyMAPE, v.latency.count,
                            v.worstLatencyPercent, v.latencyMAPE <= 10 && v.worstLatencyPercent <= 20 ? "PASS" : "FAIL"))
        lines += ["", "Accuracy (post-training rows; change in ImageNet top-1, points)", ""]
        lines.append(pad("row", 72) + pad("published", 11) + pad("estimate", 18) + "error")
        for row in v.accuracy {
            lines.append(pad(row.label, 72) + pad(String(format: "%+.2f", row.published), 11)
                         + pad(String(format: "%+.2f ± %.2f", row.estimate, row.band ?? 0), 18) + String(format: "%+.2f", row.estimate - row.published))
        }
        lines.append("")
        lines.append(String(format: "worst accuracy error %.2f points (target ≤ 0.3): %@", v.worstAccuracyPoints, v.worstAccuracyPoints <= 0.3 ? "PASS" : "FAIL"))
        if !v.heldOutLatency.isEmpty {
            lines += ["", "Leave-one-out: each row estimated by a fit to the other rows", ""]
            for row in v.heldOutLatency {
                lines.append(pad(row.label, 72) + pad(String(format: "%.2f", row.published), 11)
                             + pad(String(format: "%.3f", row.estimate), 11) + String(format: "%+.1f%%", (row.estimate - row.published) / row.published * 100))
            }
            let errors = v.heldOutLatency.map { abs($0.estimate - $0.published) / $0.published * 100 }
            lines.append(String(format: "held-out latency MAPE %.1f%%, worst %.1f%%", errors.reduce(0, +) / Double(errors.count), errors.max() ?? 0))
            for row in v.heldOutAccuracy {
                lines.append(pad(row.label, 72) + pad(String(format: "%+.2f", row.published), 11)
                             + pad(String(format: "%+.2f ± %.2f", row.estimate, row.band ?? 0), 18) + String(format: "%+.2f", row.estimate - row.published))
            }
            lines.append(String(format: "held-out worst accuracy error %.2f points", v.heldOutAccuracy.map { abs($0.estimate - $0.published) }.max() ?? 0))
        }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
