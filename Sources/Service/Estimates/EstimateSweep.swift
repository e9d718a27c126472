import Estimation
import Foundation
import Glibc
import ModelFormats
import QuantCore

/// Several configs applied to one model in memory (no artifact written), side by side: size,
/// predicted accuracy change and latency per device, and a recommendation — the smallest
/// model (then the fastest on the target) whose predicted accuracy loss stays within budget.
struct EstimateSweep {
    struct Candidate {
        let name: String
        let pipeline: CompressionPipeline
        let int8Activations: Bool
    }

    /// `sweep: "default"`: the presets a team would try first, cheapest risk first.
    static let defaultSweep = ["w8", "palettize-8", "palettize-6", "w4-block32", "palettize-4", "palettize-4-gs16"]

    struct Table: Encodable {
        struct Row: Encodable {
            let name: String
            var weightBytes: Int?
            var compressionRatio: Double?
            var meanSQNRDB: Double?
            var estimates: ModelEstimate?
            /// Why this config could not be applied to the model (e.g. it needs iOS18).
            var error: String?
            /// Both models run on the request's dataset, when it gave one.
            var evaluation: EvaluationReport?
            /// What the recommendation read this row's accuracy from: `measured` (top-1
            /// disagreement on the dataset) or `estimated` (the data-free estimate).
            var accuracyBasis: String?
            /// Per-weight results, for comparing configs layer by layer (not encoded).
            var tensors: [CompressionReport.Tensor] = []

            enum CodingKeys: String, CodingKey {
                case name, estimates, error, evaluation
                case accuracyBasis = "accuracy_basis", weightBytes = "weight_bytes", compressionRatio = "compression_ratio", meanSQNRDB = "mean_sqnr_db"
            }
        }

        struct Recommendation: Encodable {
            let name: String?
            let reason: String
        }

        let format: String
        let float16WeightBytes: Int
        let device: String
        let computeUnits: ComputeUnits
        let os: OSRelease
        let accuracyBudget: Double
        let rows: [Row]
        let recommendation: Recommendation
        /// Layer-by-layer comparisons between configs of the same bit width.
        let warnings: [String]

        enum CodingKeys: String, CodingKey {
            case format, device, rows, recommendation, warnings, os
            case float16WeightBytes = "float16_weight_bytes", computeUnits = "compute_units", accuracyBudget = "accuracy_budget_points"
        }
    }

    let catalog: DeviceCatalog
    let devices: [DeviceProfile]
    let units: [ComputeUnits]
    let target: DeviceProfile
    let targetUnits: ComputeUnits
    /// Largest predicted top-1 loss accepted, points.
    let budget: Double
    /// Raises a Core ML model's opset first, as a job would.
    let minimumDeploymentTarget: MILOpset?
    /// The runtime the latencies are estimated for.
    var os: OSRelease = .newest

    /// Samples to measure each config on (`evaluation.dataset_id`), with where to keep each
    /// compressed model while it is measured and the executor's threads.
    struct Measurement {
        let dataset: DatasetFile
        let datasetID: String?
        let scratchDirectory: String
        let threads: Int
    }

    func run(model path: String, format: StoredModelFormat, candidates: [Candidate], measuring measurement: Measurement? = nil) throws -> Table {
        try CompressionRequest(pipeline: CompressionPipeline([]), minimumDeploymentTarget: minimumDeploymentTarget).check(for: format)
        var rows: [Table.Row] = []
        var float16Bytes = 0
        let adapter = try format.adapter(path: path)
        if let measurement { try ModelEvaluation.check(measurement.dataset.signature, against: adapter) }
        for candidate in candidates {
            var row = Table.Row(name: candidate.name)
            do {
                let request = CompressionRequest(pipeline: candidate.pipeline, minimumDeploymentTarget: minimumDeploymentTarget)
                try adapter.preflight(request)
                let scratch = measurement.map { $0.scratchDirectory + "/estimate-\(UUID().uuidString)" }
                defer { if let scratch { unlink(scratch) } }
                let file = scratch.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) } ?? -1
                if scratch != nil && file < 0 { throw Problem.storage("cannot create a scratch file: \(String(cString: strerror(errno)))") }
                defer { if file >= 0 { close(file) } }
                let outcome = try adapter.compress(request, to: { bytes in if file >= 0 { try writeAll(bytes, to: file) } },
                                                   progress: { _ in }, isCancelled: { false })
                if let measurement, let scratch {
                    row.evaluation = try ModelEvaluation.run(original: adapter, compressed: try format.adapter(path: scratch),
                                                             dataset: measurement.dataset, datasetID: measurement.datasetID,
                                                             threads: measurement.threads, progress: { _ in }, isCancelled: { false })
                }
                let estimate = outcome.estimates(catalog: catalog, devices: devices, units: units, int8Activations: candidate.int8Activations, os: os)
                float16Bytes = estimate.totals.float16WeightBytes
                row.weightBytes = estimate.totals.weightBytes
                row.compressionRatio = Double(estimate.totals.float16WeightBytes) / Double(max(1, estimate.totals.weightBytes))
                let weighted = outcome.tensors.compactMap { t in t.action == "compressed" ? t.sqnrDB.map { ($0, Double(t.shape.reduce(1, *))) } : nil }
                let total = weighted.reduce(0) { $0 + $1.1 }
                row.meanSQNRDB = total > 0 ? weighted.reduce(0) { $0 + $1.0 * $1.1 } / total : nil
                row.estimates = estimate
                if let measured = row.evaluation?.measuredAgreement { row.estimates?.accuracy?.measured = measured }
                row.tensors = outcome.tensors
            } catch let problem as Problem {
                row.error = problem.detail
            }
            rows.append(row)
        }
        return Table(format: format.rawValue, float16WeightBytes: float16Bytes, device: target.name,
                     computeUnits: targetUnits, os: os, accuracyBudget: budget, rows: Self.judged(rows), recommendation: recommend(rows),
                     warnings: Self.granularityWarnings(rows))
    }

    /// Where one config loses much more on a layer than another of the same bit width: "4-bit
    /// per-tensor on layer X loses 18 dB more than per-block 32". Only gaps of 6 dB (one bit's
    /// worth) or more are worth a user's attention.
    static func granularityWarnings(_ rows: [Table.Row]) -> [String] {
        func bits(_ t: CompressionReport.Tensor) -> Int? {
            guard t.action == "compressed", let mode = t.mode else { return nil }
            for word in mode.split(separator: " ") {
                if word.hasSuffix("-bit"), let n = Int(word.dropLast(4)) { return n }
                if word.hasPrefix("int") || word.hasPrefix("uint"), let n = Int(word.drop { !$0.isNumber }) { return n }
            }
            return nil
        }
        var warnings: [String] = []
        for a in rows where a.error == nil {
            for b in rows where b.error == nil && b.name != a.name {
                let others = Dictionary(b.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                let gaps = a.tensors.compactMap { t -> (String, Double)? in
                    guard let o = others[t.name], let bitsA = bits(t), bits(o) == bitsA, let sa = t.sqnrDB, let sb = o.sqnrDB else { return nil }
                    return (t.name, sb - sa)
                }
                guard let worst = gaps.max(by: { $0.1 < $1.1 }), worst.1 >= 6 else { continue }
                warnings.append(String(format: "%@ on '%@' loses %.1f dB more than %@ at the same bit width: use %@ there (op_name_configs), or for the whole model",
                                       a.name, worst.0, worst.1, b.name, b.name))
            }
        }
        return warnings
    }

    /// A row's top-1 loss in points and where it comes from: measured, the share of samples
    /// whose top class changed (an upper bound on the accuracy change, whatever the labels), or
    /// else the data-free estimate.
    static func loss(_ row: Table.Row) -> (points: Double, basis: String) {
        if let measured = row.estimates?.accuracy?.measured ?? row.evaluation?.measuredAgreement {
            return (100 * (1 - measured.top1Agreement), "measured")
        }
        return (-(row.estimates?.accuracy?.topOneChange ?? 0), "estimated")
    }

    /// Rows with the basis their accuracy was judged on.
    static func judged(_ rows: [Table.Row]) -> [Table.Row] {
        rows.map { row in
            var row = row
            if row.error == nil, row.estimates != nil { row.accuracyBasis = loss(row).basis }
            return row
        }
    }

    func recommend(_ rows: [Table.Row]) -> Table.Recommendation {
        func latency(_ row: Table.Row) -> Double {
            row.estimates?.entries.first { $0.device == target.name && $0.computeUnits == targetUnits }?.compressedMilliseconds ?? .infinity
        }
        let within = rows.filter { row in
            guard row.estimates != nil, row.error == nil else { return false }
            return Self.loss(row).points <= budget
        }
        guard let smallest = within.map({ $0.weightBytes ?? .max }).min() else {
            return .init(name: nil, reason: String(format: "no config keeps the top-1 loss within %.2f points; try more bits or per-block/grouped granularity", budget))
        }
        // Sizes within 1% of the smallest count as equal; then the fastest on the target wins.
        let best = within.filter { Double($0.weightBytes ?? .max) <= Double(smallest) * 1.01 }.min { latency($0) < latency($1) }!
        let (loss, basis) = Self.loss(best)
        let judged = basis == "measured"
            ? String(format: "a measured top-1 loss of at most %.2f points (the share of samples whose top class changed)", loss)
            : String(format: "a predicted top-1 loss of %.2f points", loss)
        return .init(name: best.name, reason: String(format: "smallest weights (%.2f× smaller than float16) with %@, within the %.2f-point budget; %.3f ms on %@ (%@)",
                                                     best.compressionRatio ?? 1, judged, budget, latency(best), target.name, targetUnits.rawValue))
    }
}
