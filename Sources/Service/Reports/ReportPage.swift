import Estimation
import Foundation

/// A job's report as one self-contained HTML page: no scripts, fonts or stylesheets from
/// elsewhere (even the icon is inline, so a browser asks for no favicon), so it works offline and from a saved file. Every chart is inline SVG with its
/// numbers in a table beside it, and series differ by pattern and label as well as colour, so
/// the page reads without colour. Pure: the report in, the page out.
struct ReportPage {
    let report: CompressionReport

    /// Layers drawn in a chart (tables hold them all): a page stays readable for large models.
    static let chartRows = 40

    var html: String {
        var body = header + warnings
        body += weightSection
        if let evaluation = report.evaluation { body += Self.evaluationSection(evaluation) }
        if let activations = report.activationQuantization { body += Self.activationSection(activations) }
        if let estimates = report.estimates {
            body += Self.latencySection(estimates)
            if let accuracy = estimates.accuracy { body += Self.accuracySection(accuracy) }
        }
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="data:,">
        <title>quantd report \(HTML.escape(report.jobID))</title>
        <style>\(Self.style)</style></head>
        <body><main>\(body)</main></body></html>
        """
    }

    static let style = """
    body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#111;background:#fff}main{max-width:1100px;margin:auto;padding:16px}
    h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}
    table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
    td:first-child,th:first-child{text-align:left}.chart .label,.chart .value,.chart .axis{font-size:11px;fill:#111}
    .bar.s0{fill:#9bb7d4;stroke:#1f4e79}.bar.s1{fill:#1f4e79;stroke:#1f4e79}.band{stroke:#b00;stroke-width:1.5;fill:none}
    .legend span{margin-right:12px}.swatch0{border:1px solid #1f4e79;background:#9bb7d4;padding:0 7px}.swatch1{background:#1f4e79;padding:0 7px}
    details{margin:6px 0}.warning{color:#7a3e00}
    """

    private var header: String {
        let t = report.totals
        return """
        <h1>Compression report</h1>
        <table id="summary"><tbody>
        <tr><th>job</th><td>\(HTML.escape(report.jobID))</td></tr>
        <tr><th>model</th><td>\(HTML.escape(report.modelID)) (\(HTML.escape(report.format)))</td></tr>
        <tr><th>tensors compressed</th><td data-value="\(t.quantizedTensors)">\(t.quantizedTensors) of \(t.tensors)</td></tr>
        <tr><th>parameters</th><td data-value="\(t.parameters)">\(t.parameters)</td></tr>
        <tr><th>upload bytes</th><td data-value="\(t.uploadBytes)">\(t.uploadBytes)</td></tr>
        <tr><th>artifact bytes</th><td id="artifact-bytes" data-value="\(t.artifactBytes)">\(t.artifactBytes)</td></tr>
        <tr><th>gzip bytes</th><td data-value="\(t.gzipBytes)">\(t.gzipBytes)</td></tr>
        <tr><th>ratio vs float16</th><td>\(BarChart.number(t.compressionRatioVsFloat16))×</td></tr>
        <tr><th>mean SQNR</th><td>\(t.meanSQNRDB.map { BarChart.number($0) + " dB" } ?? "—")</td></tr>
        <tr><th>job seconds</th><td>\(BarChart.number(report.timings.totalSeconds))</td></tr>
        </tbody></table>
        """
    }

    private var warnings: String {
        guard !report.warnings.isEmpty else { return "" }
        return "<h2>Warnings</h2><ul id=\"warnings\">" + report.warnings.map { "<li class=\"warning\">⚠ \(HTML.escape($0))</li>" }.joined() + "</ul>"
    }

    private var weightSection: String {
        let compressed = report.tensors.filter { $0.sqnrDB != nil }
        let worst = compressed.sorted { ($0.sqnrDB ?? .infinity) < ($1.sqnrDB ?? .infinity) }.prefix(Self.chartRows)
        let sqnr = BarChart(title: "Per-layer weight SQNR (lowest first)", unit: "dB", series: ["SQNR"],
                            rows: worst.map { .init(label: $0.name, values: [$0.sqnrDB]) })
        let largest = report.tensors.sorted { $0.bytesBefore > $1.bytesBefore }.prefix(Self.chartRows)
        let bytes = BarChart(title: "Bytes per layer, before and after (largest first)", unit: "bytes", series: ["before", "after"],
                             rows: largest.map { .init(label: $0.name, values: [Double($0.bytesBefore), Double($0.bytesAfter)]) })
        let rows = report.tensors.map { t in
            "<tr><td>\(HTML.escape(t.name))</td><td>\(HTML.escape(t.action))</td><td>\(HTML.escape(t.mode ?? t.reason ?? ""))</td>"
                + "<td data-value=\"\(t.bytesBefore)\">\(t.bytesBefore)</td><td data-value=\"\(t.bytesAfter)\">\(t.bytesAfter)</td>"
                + "<td>\(BarChart.number(t.bitsPerWeight))</td><td class=\"sqnr\" data-value=\"\(t.sqnrDB.map { String($0) } ?? "")\">\(t.sqnrDB.map(BarChart.number) ?? "—")</td></tr>"
        }.joined()
        return """
        <h2>Weights</h2>
        <figure id="sqnr-chart">\(sqnr.svg)</figure>
        <p class="legend"><span><span class="swatch0"></span> before</span><span><span class="swatch1"></span> after</span></p>
        <figure id="bytes-chart">\(bytes.svg)</figure>
        <details><summary>Every tensor (\(report.tensors.count))</summary>
        <table id="tensor-table"><thead><tr><th>tensor</th><th>action</th><th>mode / reason</th><th>bytes before</th><th>bytes after</th><th>bits/weight</th><th>SQNR dB</th></tr></thead>
        <tbody>\(rows)</tbody></table></details>
        """
    }

    static func evaluationSection(_ evaluation: EvaluationReport) -> String {
        let outputs = evaluation.outputs.map { o in
            "<tr><td>\(HTML.escape(o.name))</td><td>\(HTML.escape(o.kind))</td><td class=\"snr\" data-value=\"\(o.snrDB.map { String($0) } ?? "")\">\(o.snrDB.map(BarChart.number) ?? "—")</td>"
                + "<td>\(o.cosine.map(BarChart.number) ?? "—")</td><td class=\"top1\" data-value=\"\(o.top1Agreement.map { String($0) } ?? "")\">\(o.top1Agreement.map(BarChart.number) ?? "—")</td>"
                + "<td>\(o.top5Agreement.map(BarChart.number) ?? "—")</td></tr>"
        }.joined()
        let layers = evaluation.layers.prefix(chartRows)
        let chart = BarChart(title: "Measured per-layer SNR, in the order the report ranks them (most added noise first)", unit: "dB",
                             series: ["SNR"], rows: layers.map { .init(label: $0.name, values: [$0.snrDB]) })
        let table = evaluation.layers.map { l in
            "<tr><td>\(HTML.escape(l.name))</td><td>\(HTML.escape(l.opType))</td><td data-value=\"\(l.snrDB.map { String($0) } ?? "")\">\(l.snrDB.map(BarChart.number) ?? "—")</td>"
                + "<td>\(l.inputSNRDB.map(BarChart.number) ?? "—")</td><td>\(l.addedNoise.map(BarChart.number) ?? "—")</td></tr>"
        }.joined()
        return """
        <h2>Measured on your samples</h2>
        <p>\(evaluation.samples) samples\(evaluation.datasetID.map { " of dataset " + HTML.escape($0) } ?? ""), \(BarChart.number(evaluation.seconds)) s.</p>
        <table id="evaluation-outputs"><thead><tr><th>output</th><th>kind</th><th>SNR dB</th><th>cosine</th><th>top-1 agreement</th><th>top-5 agreement</th></tr></thead><tbody>\(outputs)</tbody></table>
        <figure id="evaluation-chart">\(chart.svg)</figure>
        <details><summary>Every layer (\(evaluation.layers.count))</summary>
        <table id="evaluation-layers"><thead><tr><th>layer</th><th>op</th><th>SNR dB</th><th>input SNR dB</th><th>added noise</th></tr></thead><tbody>\(table)</tbody></table></details>
        """
    }

    static func activationSection(_ activations: ActivationQuantizationReport) -> String {
        let rows = activations.tensors.map { t in
            "<tr><td>\(HTML.escape(t.name))</td><td>\(BarChart.number(Double(t.min)))</td><td>\(BarChart.number(Double(t.max)))</td>"
                + "<td>\(t.scale)</td><td>\(t.zeroPoint)</td><td>\(t.dtype)</td></tr>"
        }.joined()
        let c = activations.calibration
        return """
        <h2>Activation quantization</h2>
        <p>Calibrated by \(HTML.escape(c.method))\(c.percentile.map { " (\(BarChart.number($0))th percentile)" } ?? "") on \(c.samples) samples; \(activations.insertedOps) quantize/dequantize ops added, \(activations.quantizedOps.count) ops reading quantized activations.</p>
        <details><summary>Every quantized activation (\(activations.tensors.count))</summary>
        <table id="activation-table"><thead><tr><th>tensor</th><th>min</th><th>max</th><th>scale</th><th>zero point</th><th>type</th></tr></thead><tbody>\(rows)</tbody></table></details>
        """
    }

    static func latencySection(_ estimates: ModelEstimate) -> String {
        let entries = estimates.entries
        let chart = BarChart(
            title: "Estimated latency per device and compute units: float16 and compressed, the band around the compressed estimate",
            unit: "ms", series: ["float16", "compressed"],
            rows: entries.map { e in
                let band = e.compressedMilliseconds * e.bandPercent / 100
                return .init(label: "\(e.device) · \(e.computeUnits.rawValue)", values: [e.float16Milliseconds, e.compressedMilliseconds],
                             bands: [nil, max(0, e.compressedMilliseconds - band)...(e.compressedMilliseconds + band)])
            })
        let rows = entries.map { e in
            "<tr><td>\(HTML.escape(e.device))</td><td>\(HTML.escape(e.computeUnits.rawValue))</td>"
                + "<td class=\"float16-ms\" data-value=\"\(e.float16Milliseconds)\">\(BarChart.number(e.float16Milliseconds))</td>"
                + "<td class=\"compressed-ms\" data-value=\"\(e.compressedMilliseconds)\">\(BarChart.number(e.compressedMilliseconds))</td>"
                + "<td>±\(BarChart.number(e.bandPercent))%</td><td>\(BarChart.number(e.speedup))×</td>"
                + "<td data-value=\"\(e.compressedMemoryBytes)\">\(e.compressedMemoryBytes)</td><td>\(HTML.escape(e.basis))</td></tr>"
        }.joined()
        let warnings = estimates.warnings.map { "<li class=\"warning\">⚠ \(HTML.escape($0))</li>" }.joined()
        return """
        <h2>Latency and memory per device</h2>
        <p id="latency-os">Estimated for the \(HTML.escape((entries.first?.os ?? .newest).rawValue)) runtime (\(HTML.escape((entries.first?.os ?? .newest).macOSName)) on a Mac).</p>
        <p class="legend"><span><span class="swatch0"></span> float16</span><span><span class="swatch1"></span> compressed</span><span>— band</span></p>
        <figure id="latency-chart">\(chart.svg)</figure>
        <table id="latency-table"><thead><tr><th>device</th><th>compute units</th><th>float16 ms</th><th>compressed ms</th><th>band</th><th>speed-up</th><th>memory bytes</th><th>basis</th></tr></thead><tbody>\(rows)</tbody></table>
        \(warnings.isEmpty ? "" : "<ul id=\"estimate-warnings\">\(warnings)</ul>")
        <p>\(HTML.escape(estimates.basis))</p>
        """
    }

    static func accuracySection(_ accuracy: ModelEstimate.Accuracy) -> String {
        var rows: [BarChart.Row] = []
        var measured = ""
        if let m = accuracy.measured {
            let disagreement = (1 - m.top1Agreement) * 100
            rows.append(.init(label: "measured top-1 disagreement", values: [disagreement]))
            measured = "<p id=\"measured-agreement\" data-value=\"\(m.top1Agreement)\">Measured first: top-1 agreement \(BarChart.number(m.top1Agreement * 100))% on \(m.samples) samples.</p>"
        }
        let loss = abs(accuracy.topOneChange)
        rows.append(.init(label: "estimated top-1 change", values: [loss],
                          bands: [max(0, loss - accuracy.band)...(loss + accuracy.band)]))
        let chart = BarChart(title: "Top-1 accuracy change in points, the estimate with its band", unit: "points", series: ["change"], rows: rows)
        let outsideFit = accuracy.outsideFit.isEmpty ? "" : "<p id=\"accuracy-outside-fit\">Beyond the published rows the estimate was fitted to, so its band is widened: "
            + accuracy.outsideFit.map(HTML.escape).joined(separator: "; ") + ".</p>\n"
        return """
        <h2>Accuracy</h2>
        \(measured)
        <p id="accuracy-estimate" data-value="\(accuracy.topOneChange)" data-band="\(accuracy.band)">Estimated top-1 change \(BarChart.number(accuracy.topOneChange)) points ± \(BarChart.number(accuracy.band)); largest contributors: \(HTML.escape(accuracy.largestContributors.joined(separator: ", "))).</p>
        <figure id="accuracy-chart">\(chart.svg)</figure>
        \(outsideFit)<p>\(HTML.escape(accuracy.basis))</p>
        """
    }
}
