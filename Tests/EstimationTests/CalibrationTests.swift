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

    @Test("several starts find the deeper of two basins that one restarted simplex misses")
    func severalStarts() {
        let doubleWell = { (x: [Double]) in pow(x[0] * x[0] - 1, 2) + 0.3 * x[0] }
        let local = NelderMead.minimizeWithRestarts(doubleWell, from: [1.2])
        let global = NelderMead.minimizeFromSeveralStarts(doubleWell, around: [1.2], count: 8)
        #expect(local.point[0] > 0)
        #expect(global.point[0] < -1)
        #expect(global.value < local.value - 0.5)
        // Seeded: the same call gives the same point.
        #expect(NelderMead.minimizeFromSeveralStarts(doubleWell, around: [1.2], count: 8).point == global.point)
    }

    @Test("fitting rows made by a known catalog reproduces those rows")
    func recoversRowsItWasMadeFrom() throws {
        var truth = try RepositoryCatalog.load()
        truth.latency.neuralEngine.efficiency.value = 0.4
        truth.latency.neuralEngine.opOverheadMicroseconds.value = 3
        truth.latency.neuralEngineIOS18.weightBandwidthFactor.value = 0.5
        let graphs = [GraphFixtures.smallNetwork(), GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 8), convBytes: 64 * 147 + 128)]
        var rows: [Calibration.LatencyRow] = []
        for chip in ["A16", "A17 Pro"] {
            for (g, graph) in graphs.enumerated() {
                for int8 in [false, true] {
                    for os in OSRelease.allCases {
                        var row = Calibration.LatencyRow(label: "\(chip) \(g) \(int8) \(os)", chip: chip, os: os, precision: g == 1 ? .compressed : .float16,
                                                         publishedMilliseconds: 0, cost: GraphCost(graph: graph, assumingInt8Activations: int8))
                        row.publishedMilliseconds = try #require(Calibration.estimate(row, catalog: truth))
                        rows.append(row)
                    }
                }
            }
        }
        var start = truth
        start.latency.neuralEngine.efficiency.value = 0.9
        start.latency.neuralEngine.opOverheadMicroseconds.value = 10
        // Two extra starts: the production fit's 24 search basins this near start does not need.
        let fitted = Calibration.fitLatency(rows, catalog: start, starts: 2)
        for row in rows {
            let e = try #require(Calibration.estimate(row, catalog: fitted))
            #expect(abs(e - row.publishedMilliseconds) / row.publishedMilliseconds < 0.01, "\(row.label)")
        }
        #expect(fitted.latency.neuralEngine.efficiency.isFitted)
        #expect(fitted.latency.neuralEngineIOS18.weightBandwidthFactor.isFitted)
        #expect(fitted.calibratedChips == ["A16", "A17 Pro"])
        #expect(fitted.bands.calibratedPercent <= 5)
    }

    @Test("the accuracy fit recovers known coefficients and exponent, sets the band from rows left out, and records the fitted range")
    func accuracyFit() throws {
        var truth = try RepositoryCatalog.load().accuracy
        truth.noiseCoefficient.value = 50
        truth.depthwiseSensitivity.value = 4
        truth.noiseExponent.value = 1.3
        let lut4 = StoredWeightForm(kind: .palettized, bits: 4), lut6 = StoredWeightForm(kind: .palettized, bits: 6)
        let layerSets: [[AccuracyModel.Layer]] = [
            [.init(name: "a", sqnrDB: 30, isDepthwise: false, isEdge: false, isAttentionProjection: false, form: lut6),
             .init(name: "b", sqnrDB: 25, isDepthwise: true, isEdge: false, isAttentionProjection: false, form: lut6)],
            [.init(name: "a", sqnrDB: 40, isDepthwise: false, isEdge: false, isAttentionProjection: false, form: lut6)],
            [.init(name: "b", sqnrDB: 20, isDepthwise: true, isEdge: false, isAttentionProjection: false, form: lut4)],
            [.init(name: "a", sqnrDB: 12, isDepthwise: false, isEdge: false, isAttentionProjection: false, form: lut4)],
            [.init(name: "a", sqnrDB: 18, isDepthwise: false, isEdge: false, isAttentionProjection: false, form: lut4),
             .init(name: "b", sqnrDB: 30, isDepthwise: true, isEdge: false, isAttentionProjection: false, form: lut6)],
            [.init(name: "b", sqnrDB: 15, isDepthwise: true, isEdge: false, isAttentionProjection: false, form: lut4)],
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
        #expect(abs(fitted.noiseExponent.value - 1.3) < 0.01)
        // Exact rows: every row left out is predicted exactly, so the band is its floor.
        #expect(fitted.bandPoints.value == 0.1)
        #expect(fitted.bandFraction.value == 0.25)
        #expect(fitted.fittedRange == .init(lowestBits: 4, groupedLUTs: false, attention: false))
    }

    @Test("the band comes from rows left out of the fit: a row the others cannot predict widens it")
    func bandFromRowsLeftOut() throws {
        var truth = try RepositoryCatalog.load().accuracy
        truth.noiseCoefficient.value = 20
        truth.noiseExponent.value = 1
        let layerSets: [[AccuracyModel.Layer]] = [30.0, 24, 18, 12, 6].map { sqnr in
            [.init(name: "a", sqnrDB: sqnr, isDepthwise: false, isEdge: false, isAttentionProjection: false, form: StoredWeightForm(kind: .palettized, bits: 4))]
        }
        var rows = layerSets.enumerated().map { i, layers in
            Calibration.AccuracyRow(label: "\(i)", layers: layers, publishedPoints: AccuracyModel(parameters: truth).estimate(layers).points)
        }
        let exact = Calibration.fitAccuracy(rows, parameters: truth)
        rows[2].publishedPoints *= 3
        let disturbed = Calibration.fitAccuracy(rows, parameters: truth)
        #expect(disturbed.bandFraction.value > exact.bandFraction.value)
    }

    @Test("fitted figures keep four significant digits; vanishing ones become zero")
    func rounding() {
        #expect(significant(0.80511485) == 0.8051)
        #expect(significant(199.99999) == 200)
        #expect(significant(1.1e-21) == 0)
    }
}
