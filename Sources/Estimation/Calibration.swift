import Foundation

/// Fits the estimators' free parameters to published measurements: the Neural Engine's
/// latency parameters (shared by every device, plus each measured chip's int8 speed-up) to
/// the latency rows, and the accuracy model's coefficients to the post-training rows.
public enum Calibration {
    public struct LatencyRow: Sendable {
        public var label: String
        public var chip: String
        public var precision: LatencyModel.Precision
        public var publishedMilliseconds: Double
        public var cost: GraphCost

        public init(label: String, chip: String, precision: LatencyModel.Precision, publishedMilliseconds: Double, cost: GraphCost) {
            self.label = label
            self.chip = chip
            self.precision = precision
            self.publishedMilliseconds = publishedMilliseconds
            self.cost = cost
        }
    }

    public struct AccuracyRow: Sendable {
        public var label: String
        public var layers: [AccuracyModel.Layer]
        /// Published change in top-1, points.
        public var publishedPoints: Double

        public init(label: String, layers: [AccuracyModel.Layer], publishedPoints: Double) {
            self.label = label
            self.layers = layers
            self.publishedPoints = publishedPoints
        }
    }

    /// The published rows' Core ML compute units ("ALL") on an iPhone run on the Neural Engine.
    public static let publishedUnits = ComputeUnits.all

    public static func estimate(_ row: LatencyRow, catalog: DeviceCatalog) -> Double? {
        guard let device = catalog.device(named: row.chip) else { return nil }
        return LatencyModel(parameters: catalog.latency).estimate(row.cost, on: device, units: publishedUnits, precision: row.precision).milliseconds
    }

    /// The catalog with the Neural Engine's latency parameters fitted to `rows` (least squares
    /// of relative error), and the calibrated band set to cover both the fit's worst residual
    /// and the typical error on a row left out of the fit (a fit's own residuals flatter it).
    public static func fitLatency(_ rows: [LatencyRow], catalog: DeviceCatalog) -> DeviceCatalog {
        var fitted = fitLatencyParameters(rows, catalog: catalog)
        let errors = rows.compactMap { row in estimate(row, catalog: fitted).map { abs($0 - row.publishedMilliseconds) / row.publishedMilliseconds * 100 } }
        let heldOut = leaveOneOut(rows, catalog: catalog).map { abs($0.estimate - $0.row.publishedMilliseconds) / $0.row.publishedMilliseconds * 100 }
        let rms = (heldOut.reduce(0) { $0 + $1 * $1 } / Double(max(heldOut.count, 1))).squareRoot()
        // Devices the rows do not measure get twice the band.
        let band = max(rms, errors.max() ?? 0).rounded(.up)
        fitted.bands.calibratedPercent = band
        fitted.bands.scaledPercent = 2 * band
        return fitted
    }

    /// Each row estimated by a fit to all the others.
    public static func leaveOneOut(_ rows: [LatencyRow], catalog: DeviceCatalog) -> [(row: LatencyRow, estimate: Double)] {
        guard rows.count > 1 else { return [] }
        return rows.indices.map { i in
            var others = rows
            let held = others.remove(at: i)
            return (held, estimate(held, catalog: fitLatencyParameters(others, catalog: catalog)) ?? .nan)
        }
    }

    private static func fitLatencyParameters(_ rows: [LatencyRow], catalog: DeviceCatalog) -> DeviceCatalog {
        let chips = Array(Set(rows.map(\.chip))).sorted()
        let source = "fitted: quantd calibrate on \(rows.count) published latency rows"
        func apply(_ x: [Double], to base: DeviceCatalog) -> DeviceCatalog {
            var c = base
            var ne = c.latency.neuralEngine
            let v = zip(x, latencyBounds).map { $1.value(at: $0) }
            ne.efficiency = Figure(v[0], source: source)
            ne.depthwiseEfficiency = Figure(v[1], source: source)
            ne.activationBandwidthFactor = Figure(v[2], source: source)
            ne.weightBandwidthFactor = Figure(v[3], source: source)
            ne.decompressionNanosecondsPerWeight = Figure(v[4], source: source)
            ne.opOverheadMicroseconds = Figure(v[5], source: source)
            ne.fixedOverheadMilliseconds = Figure(v[6], source: source)
            c.latency.neuralEngine = ne
            for (k, chip) in chips.enumerated() {
                let speedup = Figure(Bound.int8Speedup.value(at: x[7 + k]), source: "fitted on \(chip)")
                for i in c.devices.indices where c.devices[i].chip == chip || c.devices[i].neuralEngine.int8Speedup.source == "fitted on \(chip)" {
                    c.devices[i].neuralEngine.int8Speedup = speedup
                }
            }
            return c
        }
        func loss(_ x: [Double]) -> Double {
            let c = apply(x, to: catalog)
            return rows.reduce(0) { sum, row in
                guard let e = estimate(row, catalog: c) else { return sum }
                let r = (e - row.publishedMilliseconds) / row.publishedMilliseconds
                return sum + r * r
            }
        }
        let ne = catalog.latency.neuralEngine
        let current = [ne.efficiency, ne.depthwiseEfficiency, ne.activationBandwidthFactor, ne.weightBandwidthFactor,
                       ne.decompressionNanosecondsPerWeight, ne.opOverheadMicroseconds, ne.fixedOverheadMilliseconds].map(\.value)
        var start = zip(current, latencyBounds).map { $1.position(of: $0) }
        start += chips.map { chip in Bound.int8Speedup.position(of: catalog.device(named: chip)?.neuralEngine.int8Speedup.value ?? 1) }
        // Four significant digits are plenty for figures a reader compares with hardware specs.
        var fitted = apply(NelderMead.minimizeWithRestarts(loss, from: start).point, to: catalog).roundingFittedFigures()
        fitted.calibratedChips = chips
        return fitted
    }

    /// The accuracy parameters with the noise coefficient and depthwise sensitivity fitted to
    /// `rows` (least squares in points), and the band from the residuals.
    public static func fitAccuracy(_ rows: [AccuracyRow], parameters: AccuracyParameters) -> AccuracyParameters {
        let source = "fitted: quantd calibrate on \(rows.count) published post-training accuracy rows"
        func apply(_ x: [Double]) -> AccuracyParameters {
            var p = parameters
            p.noiseCoefficient = Figure(accuracyBounds[0].value(at: x[0]), source: source)
            p.depthwiseSensitivity = Figure(accuracyBounds[1].value(at: x[1]), source: source)
            return p
        }
        func loss(_ x: [Double]) -> Double {
            let model = AccuracyModel(parameters: apply(x))
            return rows.reduce(0) { sum, row in
                let r = model.estimate(row.layers).points - row.publishedPoints
                return sum + r * r
            }
        }
        let start = [accuracyBounds[0].position(of: parameters.noiseCoefficient.value), accuracyBounds[1].position(of: parameters.depthwiseSensitivity.value)]
        var fitted = apply(NelderMead.minimizeWithRestarts(loss, from: start).point)
        fitted.noiseCoefficient.value = significant(fitted.noiseCoefficient.value)
        fitted.depthwiseSensitivity.value = significant(fitted.depthwiseSensitivity.value)
        let model = AccuracyModel(parameters: fitted)
        let worst = rows.map { abs(model.estimate($0.layers).points - $0.publishedPoints) }.max() ?? 0
        fitted.bandPoints = Figure(max(0.1, (worst * 20).rounded(.up) / 20), source: "largest residual of the accuracy fit, at least 0.1")
        return fitted
    }
}

/// A fitted parameter's physically sensible range; the fit moves freely on the real line and
/// maps into the range, so no parameter can run off to a degenerate value.
struct Bound {
    let low: Double
    let high: Double

    func value(at x: Double) -> Double { low + (high - low) / (1 + exp(-x)) }

    func position(of value: Double) -> Double {
        let p = min(max((value - low) / (high - low), 1e-6), 1 - 1e-6)
        return log(p / (1 - p))
    }

    static let int8Speedup = Bound(low: 0.5, high: 4)
}

/// Efficiency, depthwise efficiency, activation and weight bandwidth factors, decompression
/// ns per weight, op overhead µs, fixed overhead ms.
private let latencyBounds = [Bound(low: 0.01, high: 1), Bound(low: 0.005, high: 1), Bound(low: 0.1, high: 20), Bound(low: 0.1, high: 200),
                             Bound(low: 0, high: 1), Bound(low: 0, high: 50), Bound(low: 0, high: 1)]

/// Noise coefficient (points per unit of weighted noise power), depthwise sensitivity.
private let accuracyBounds = [Bound(low: 0, high: 10_000), Bound(low: 0, high: 100)]

/// `value` to four significant digits; values below 1e-6 are zero (a parameter the fit
/// switched off).
func significant(_ value: Double) -> Double {
    guard abs(value) >= 1e-6 else { return 0 }
    let scale = pow(10, 3 - floor(log10(abs(value))))
    return (value * scale).rounded() / scale
}

extension DeviceCatalog {
    func roundingFittedFigures() -> DeviceCatalog {
        var c = self
        func round(_ u: inout UnitParameters) {
            for path in [\UnitParameters.efficiency, \.depthwiseEfficiency, \.activationBandwidthFactor, \.weightBandwidthFactor,
                         \.decompressionNanosecondsPerWeight, \.opOverheadMicroseconds, \.fixedOverheadMilliseconds]
            where u[keyPath: path].isFitted {
                u[keyPath: path].value = significant(u[keyPath: path].value)
            }
        }
        round(&c.latency.neuralEngine)
        for i in c.devices.indices where c.devices[i].neuralEngine.int8Speedup.isFitted {
            c.devices[i].neuralEngine.int8Speedup.value = significant(c.devices[i].neuralEngine.int8Speedup.value)
        }
        return c
    }
}
