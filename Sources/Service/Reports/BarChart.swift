/// A horizontal bar chart as inline SVG: one row per label, one or two bars per row, an
/// optional band (a range drawn as a thin line with end ticks) per bar. Values are drawn from
/// zero; the scale is the largest value (band ends included). Pure: a value in, SVG text out.
struct BarChart {
    struct Row {
        var label: String
        /// One or two values (e.g. before and after); nil draws nothing for that series.
        var values: [Double?]
        /// Per value, the range to draw around it.
        var bands: [ClosedRange<Double>?] = []
    }

    var title: String
    var unit: String
    var series: [String]
    var rows: [Row]

    static let rowHeight = 18
    static let labelWidth = 220
    static let plotWidth = 420

    var svg: String {
        let largest = rows.flatMap { row in row.values.compactMap { $0 } + row.bands.compactMap { $0?.upperBound } }
            .filter(\.isFinite).max() ?? 0
        let scale = largest > 0 ? Double(Self.plotWidth) / largest : 0
        let barHeight = Double(Self.rowHeight - 4) / Double(max(series.count, 1))
        let height = rows.count * Self.rowHeight + 24
        var out = #"<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="\#(Self.labelWidth + Self.plotWidth + 90)" height="\#(height)" aria-label="\#(HTML.escape(title))">"#
        out += "<title>\(HTML.escape(title))</title>"
        for (index, row) in rows.enumerated() {
            let top = index * Self.rowHeight
            out += #"<text x="\#(Self.labelWidth - 6)" y="\#(top + Self.rowHeight - 5)" text-anchor="end" class="label">\#(HTML.escape(Self.shortened(row.label)))</text>"#
            for (k, value) in row.values.enumerated() {
                guard let value, value.isFinite else { continue }
                let y = Double(top + 2) + Double(k) * barHeight
                let width = max(0, value * scale)
                out += #"<rect class="bar s\#(k)" x="\#(Self.labelWidth)" y="\#(Self.number(y))" width="\#(Self.number(width))" height="\#(Self.number(barHeight - 1))" data-value="\#(value)"><title>\#(HTML.escape(row.label)): \#(Self.number(value)) \#(HTML.escape(unit))</title></rect>"#
                if k < row.bands.count, let band = row.bands[k] {
                    let (x0, x1) = (Double(Self.labelWidth) + band.lowerBound * scale, Double(Self.labelWidth) + band.upperBound * scale)
                    let mid = y + (barHeight - 1) / 2
                    out += #"<path class="band" d="M\#(Self.number(x0)) \#(Self.number(mid))H\#(Self.number(x1))M\#(Self.number(x0)) \#(Self.number(mid - 3))v6M\#(Self.number(x1)) \#(Self.number(mid - 3))v6"/>"#
                }
            }
            if let last = row.values.last, let value = last, value.isFinite {
                // After the row's longest bar, so the label never sits on a bar.
                let longest = row.values.compactMap { $0 }.filter(\.isFinite).max() ?? value
                let x = Double(Self.labelWidth) + max(0, longest * scale) + 4
                out += #"<text x="\#(Self.number(x))" y="\#(top + Self.rowHeight - 5)" class="value">\#(Self.number(value))</text>"#
            }
        }
        out += #"<text x="\#(Self.labelWidth)" y="\#(height - 6)" class="axis">0 – \#(Self.number(largest)) \#(HTML.escape(unit))</text>"#
        return out + "</svg>"
    }

    /// Three significant digits, no exponent for the sizes a report holds.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "—" }
        let magnitude = abs(value)
        let digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3
        var text = String(format: "%.\(digits)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    static func shortened(_ label: String) -> String {
        label.count <= 34 ? label : "…" + label.suffix(33)
    }
}
