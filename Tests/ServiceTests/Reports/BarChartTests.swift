import Testing
@testable import Service

@Suite struct BarChartTests {
    @Test func barsAreScaledToTheLargestValueAndCarryTheirValues() {
        let chart = BarChart(title: "t", unit: "ms", series: ["a", "b"],
                             rows: [.init(label: "x", values: [10, 5]), .init(label: "y<z", values: [20, nil], bands: [15...25, nil])])
        let svg = chart.svg
        // The band's upper end (25) sets the scale: 20 is 0.8 of the plot width.
        #expect(svg.contains(#"width="\#(BarChart.number(Double(BarChart.plotWidth) * 0.8))""#))
        #expect(svg.contains(#"data-value="5.0""#) && svg.contains(#"data-value="20.0""#))
        #expect(svg.components(separatedBy: "<rect").count - 1 == 3)
        #expect(svg.contains("y&lt;z") && !svg.contains("y<z"))
        #expect(svg.contains(#"class="band""#))
    }

    @Test func numbersKeepThreeSignificantDigitsWithoutTrailingZeros() {
        #expect(BarChart.number(123.456) == "123")
        #expect(BarChart.number(12.34) == "12.3")
        #expect(BarChart.number(1.5) == "1.5")
        #expect(BarChart.number(0.01234) == "0.012")
        #expect(BarChart.number(.nan) == "—")
    }
}
