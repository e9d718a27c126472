import Estimation

/// `POST /v1/estimate`'s comparison as one self-contained HTML page, in the report page's
/// manner: a chart of weight bytes and latency on the target per config, and the table with
/// the accuracy estimate (measured first), the recommendation and the warnings.
struct EstimatePage {
    let table: EstimateSweep.Table

    private func targetEntry(_ row: EstimateSweep.Table.Row) -> ModelEstimate.Entry? {
        row.estimates?.entries.first { ($0.device == table.device || $0.chip == table.device) && $0.computeUnits == table.computeUnits }
    }

    var html: String {
        let sizes = BarChart(title: "Weight bytes per config (float16 first)", unit: "MB", series: ["weights"],
                             rows: [.init(label: "float16", values: [Double(table.float16WeightBytes) / 1e6])]
                                 + table.rows.map { .init(label: $0.name, values: [$0.weightBytes.map { Double($0) / 1e6 }]) })
        let latency = BarChart(
            title: "Estimated latency on \(table.device) (\(table.computeUnits.rawValue)): float16 and compressed, with the band",
            unit: "ms", series: ["float16", "compressed"],
            rows: table.rows.map { row in
                guard let e = targetEntry(row) else { return .init(label: row.name, values: [nil, nil]) }
                let band = e.compressedMilliseconds * e.bandPercent / 100
                return .init(label: row.name, values: [e.float16Milliseconds, e.compressedMilliseconds],
                             bands: [nil, max(0, e.compressedMilliseconds - band)...(e.compressedMilliseconds + band)])
            })
        let rows = table.rows.map { row in
            let entry = targetEntry(row)
            let accuracy = row.estimates?.accuracy
            let measured = accuracy?.measured.map { "measured top-1 agreement \(BarChart.number($0.top1Agreement * 100))%; " } ?? ""
            return "<tr class=\"config\" data-name=\"\(HTML.escape(row.name))\"><td>\(HTML.escape(row.name))</td>"
                + "<td class=\"weight-bytes\" data-value=\"\(row.weightBytes.map(String.init) ?? "")\">\(row.weightBytes.map(String.init) ?? "—")</td>"
                + "<td>\(row.meanSQNRDB.map(BarChart.number) ?? "—")</td>"
                + "<td class=\"compressed-ms\" data-value=\"\(entry.map { String($0.compressedMilliseconds) } ?? "")\">\(entry.map { BarChart.number($0.compressedMilliseconds) } ?? "—")</td>"
                + "<td>\(measured)\(accuracy.map { "estimated \(BarChart.number($0.topOneChange)) ± \(BarChart.number($0.band)) points" } ?? "—")</td>"
                + "<td>\(HTML.escape(row.error ?? ""))</td></tr>"
        }.joined()
        let warnings = table.warnings.map { "<li class=\"warning\">⚠ \(HTML.escape($0))</li>" }.joined()
        let recommended = table.recommendation.name.map { "<strong id=\"recommended\">\(HTML.escape($0))</strong>: " } ?? "<strong id=\"recommended\">none</strong>: "
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>quantd estimate</title>
        <style>\(ReportPage.style)</style></head><body><main>
        <h1>Estimate: configs compared</h1>
        <p>Recommended \(recommended)\(HTML.escape(table.recommendation.reason)) (accuracy budget \(BarChart.number(table.accuracyBudget)) points).</p>
        <figure id="size-chart">\(sizes.svg)</figure>
        <p class="legend"><span><span class="swatch0"></span> float16</span><span><span class="swatch1"></span> compressed</span><span>— band</span></p>
        <figure id="latency-chart">\(latency.svg)</figure>
        <table id="estimate-table"><thead><tr><th>config</th><th>weight bytes</th><th>mean SQNR dB</th><th>ms on \(HTML.escape(table.device))</th><th>top-1 accuracy</th><th>error</th></tr></thead><tbody>\(rows)</tbody></table>
        \(warnings.isEmpty ? "" : "<ul id=\"warnings\">\(warnings)</ul>")
        </main></body></html>
        """
    }
}
