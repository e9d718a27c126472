import Estimation
import Foundation

/// `quantd estimate`: the `POST /v1/estimate` comparison on a local model file, as a table
/// (or the same JSON the API returns).
public enum LocalEstimation {
    /// `configs` are preset names or coremltools config JSON; empty = the default sweep.
    public static func run(input: String, configs: [String], device: String?, computeUnits: String?, budget: Double?,
                           int8Activations: Bool, minimumDeploymentTarget: String?, os: String? = nil, devicesPath: String, json: Bool) throws -> String {
        let catalog = try DeviceCatalogFile.load(devicesPath)
        var dict: [String: Any] = ["int8_activations": int8Activations]
        if let minimumDeploymentTarget { dict["minimum_deployment_target"] = minimumDeploymentTarget }
        if let device { dict["device"] = device }
        if let os { dict["os"] = os }
        if let computeUnits { dict["compute_units"] = computeUnits }
        if let budget { dict["accuracy_budget"] = budget }
        if !configs.isEmpty, !configs.contains(where: { $0.hasPrefix("{") }) {
            // Presets alone keep the order given.
            dict["configs"] = configs
        } else if !configs.isEmpty {
            var object: [String: Any] = [:]
            for (index, text) in configs.enumerated() {
                if text.hasPrefix("{") {
                    do { object["config\(index + 1)"] = try JSONSerialization.jsonObject(with: Data(text.utf8)) } catch {
                        throw Problem.invalidRequest("--config \(index + 1) is not valid JSON: \(error.localizedDescription)")
                    }
                } else {
                    object[text] = text
                }
            }
            dict["configs"] = object
        }
        let request = try EstimateRequest(dict, catalog: catalog)
        let size = Int((try? FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.intValue ?? 0)
        let table = try request.sweep.run(model: input, format: try StoredModelFormat.detect(path: input, size: size), candidates: request.candidates)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return String(decoding: try encoder.encode(table), as: UTF8.self)
        }
        return text(table)
    }

    static func text(_ table: EstimateSweep.Table) -> String {
        let mb = { (bytes: Int) in String(format: "%.2f", Double(bytes) / 1e6) }
        let perToken = table.format == "safetensors"
        var lines = ["\(table.device), \(table.os.rawValue)/\(table.os.macOSName) runtime, compute units \(table.computeUnits.rawValue); float16 weights \(mb(table.float16WeightBytes)) MB"
                     + (perToken ? "; latency is per decoded token" : ""), ""]
        lines.append(["config", "weights MB", "ratio", "top-1 change", "float16 ms", "ms", perToken ? "decode" : "speed-up", "band", "memory MB"]
            .enumerated().map { pad($1, [18, 11, 7, 16, 11, 9, 13, 9, 10][$0]) }.joined())
        for row in table.rows {
            guard let e = row.estimates else {
                lines.append(pad(row.name, 18) + "not applicable: " + (row.error ?? "no estimate"))
                continue
            }
            let accuracy = e.accuracy.map { String(format: "%+.2f ± %.2f", $0.topOneChange, $0.band) } ?? "—"
            let entry = e.entries.first { $0.device == table.device && $0.computeUnits == table.computeUnits }
            let cells: [String] = [row.name, mb(row.weightBytes ?? 0), String(format: "%.2f×", row.compressionRatio ?? 1), accuracy,
                         entry.map { String(format: "%.3f", $0.float16Milliseconds) } ?? "—",
                         entry.map { String(format: "%.3f", $0.compressedMilliseconds) } ?? "—",
                         entry.map { e -> String in perToken ? String(format: "%.1f tok/s", e.tokensPerSecond ?? 0) : String(format: "%.2f×", e.speedup) } ?? "—",
                         entry.map { String(format: "±%.0f%%", $0.bandPercent) } ?? "—",
                         entry.map { mb($0.compressedMemoryBytes) } ?? "—"]
            lines.append(cells.enumerated().map { pad($1, [18, 11, 7, 16, 11, 9, 13, 9, 10][$0]) }.joined())
        }
        lines.append("")
        lines.append("recommendation: " + (table.recommendation.name.map { "\($0): " } ?? "") + table.recommendation.reason)
        let warnings = table.warnings + Set(table.rows.flatMap { $0.estimates?.warnings ?? [] }).sorted()
        if !warnings.isEmpty { lines += ["", "warnings:"] + warnings.map { "- " + $0 } }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
