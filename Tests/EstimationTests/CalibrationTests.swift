import Foundation
import ModelFormats
import Testing
@testable import Estimation

@Suite("Calibration")
struct CalibrationTests {
    @Test("Nelder–Mead finds the minimum of Rosenbrock's valley")
    func nelderMead() {
        let result = NelderMead.minimizeWithRestarts({ x in pow(1 - x[0], 2) + 100 * pow(x[1] - x[0] * x[0], 2) }, from: [-1.2, 1])
        #expect(abs(result.point[0] - 1) < 1e-4)
        #expect(abs(result.point[1] - 1) < 1e-4)
    }

    @Test("fitting rows made by a known catalog reproduces those rows")
    func recoversRowsItWasMadeFrom() throws {
        var truth = try RepositoryCatalog.load()
        truth.latency.neuralEngine.efficiency.value = 0.4
        truth.latency.neuralEngine.opOverheadMicroseconds.value = 3
        let graphs = [GraphCost(graph: GraphFixtures.smallNetwork()),
                      GraphCost(graph: GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 8), convBytes: 64 * 147 + 128))]
        var rows: [Calibration.LatencyRow] = []
        for chip in ["A16", "A17 Pro"] {
            for (g, cost) in graphs.enumerated() {
                for int8 in [false, true] {
                    let precision = LatencyModel.Precision(weightsAsStored: g == 1, int8Activations: int8)
                    var row = Calibration.LatencyRow(label: "\(chip) \(g) \(int8)", chip: chip, precision: precision, publishedMilliseconds: 0, cost: cost)
                    row.publishedMilliseconds = try #require(Calibration.estimate(row, catalog: truth))
                    rows.append(row)
                }
            }
        }
        var start = truth
        start.latency.neuralEngine.efficiency.value = 0.9
        start.latency.neuralEngine.opOverheadMicroseconds.value = 10
        let fitted = Calibration.fitLatency(rows, catalog: start)
        for row in rows {
            let e = try #require(Calibration.estimate(row, catalog: fitted))
            #expect(abs(e - row.publishedMilliseconds) / row.publishedMilliseconds < 0.01, "\(row.label)")
        }
        #expect(fitted.latency.neuralEngine.efficiency.isFitted)
        #expect(fitted.calibratedChips == ["A16", "A17 Pro"])
        #expect(fitted.bands.calibratedPercent <= 5)
    }

    @Test("the accuracy fit matches rows made by known coefficients, and sets the band from the residuals")
    func accuracyFit() throws {
        var truth = try RepositoryCatalog.load().accuracy
        truth.noiseCoefficient.value = 50
        truth.depthwiseSensitivity.value = 4
        let layerSets: [[AccuracyModel.Layer]] = [
            [.init(name: "a", sqnrDB: 30, isDepthwise: false, isEdge: false, isAttentionProjection: false),
             .init(name: "b", sqnrDB: 25, isDepthwise: true, isEdge: false, isAttentionProjection: false)],
            [.init(name: "a", sqnrDB: 40, isDepthwise: false, isEdge: false, isAttentionProjection: false)],
            [.init(name: "b", sqnrDB: 20, isDepthwise: true, isEdge: false, isAttentionProjection: false)],
        ]
        let rows = layerSets.enumerated().map { i, layers in
            Calibration.AccuracyRow(label: "\(i)", layers: layers, publishedPoints: AccuracyModel(parameters: truth).estimate(layers).points)
        }
        var start = truth
        start.noiseCoefficient.value = 5
        start.depthwiseSensitivity.value = 1
        let fitted = Calibration.fitAccuracy(rows, parameters: start)
        #expect(abs(fitted.noiseCoefficient.value - 50) / 50 < 0.01)
        #expect(abs(fitted.depthwiseSensitivity.value - 4) / 4 < 0.01)
        #expect(fitted.bandPoints.value == 0.1)
    }

    @Test("fitted figures keep four significant digits; vanishing ones become zero")
    func rounding() {
        #expect(significant(0.80511485) == 0.8051)
        #expect(significant(199.99999) == 200)
        #expect(significant(1.1e-21) == 0)
    }
}
