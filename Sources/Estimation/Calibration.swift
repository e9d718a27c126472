import Foundation

/// Fits the estimators' free parameters to published measurements: the Neural Engine's
/// latency parameters (shared by every device; each chip's int8 rate is its published
/// figure, not fitted: a chip's few W8A8 rows cannot pin it down) to the latency rows, and the accuracy model's coefficients to the post-training rows.
public enum Calibration {
    public struct LatencyRow: Sendable {
        public var label: String
        public var chip: String
        public var os: OSRelease
        public var precision: LatencyModel.Precision
        public var publishedMilliseconds: Double
        /// The float16 model, or the compressed one with its activations as the row ran them.
        public var cost: GraphCost

        public init(label: String, chip: String, os: OSRelease, precision: LatencyModel.Precision, publishedMilliseconds: Double, cost: GraphCost) {
            self.label = label
            self.chip = chip
            self.os = os
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
        return LatencyModel(parameters: catalog.latency).estimate(row.cost, on: device, units: publishedUnits, precision: row.precision, os: row.os).milliseconds
    }

    /// The catalog with the Neural Engine's latency parameters fitted to `rows` (least squares
    /// of relative error), and the calibrated band set to cover both the fit's worst residual
    /// and the typical error on a row left out of the fit (a fit's own residuals flatter it).
    /// `starts`: starting points tried beyond the catalog's own parameters.
    public static func fitLatency(_ rows: [LatencyRow], catalog: DeviceCatalog, starts: Int = 24) -> DeviceCatalog {
        var fitted = fitLatencyParameters(rows, catalog: catalog, starts: starts)
        let errors = rows.compactMap { row in estimate(row, catalog: fitted).map { abs($0 - row.publishedMilliseconds) / row.publishedMilliseconds * 100 } }
        let heldOut = leaveOneOut(rows, catalog: fitted).map { abs($0.estimate - $0.row.publishedMilliseconds) / $0.row.publishedMilliseconds * 100 }
        let rms = (heldOut.reduce(0) { $0 + $1 * $1 } / Double(max(heldOut.count, 1))).squareRoot()
        // Devices the rows do not measure get twice the band.
        let band = max(rms, errors.max() ?? 0).rounded(.up)
        fitted.bands.calibratedPercent = band
        fitted.bands.scaledPercent = 2 * band
        return fitted
    }

    /// Each row estimated by a fit to all the others, each fit starting from `catalog`'s
    /// parameters (the fit to every row: the basin a fit without one row is nearest).
    public static func leaveOneOut(_ rows: [LatencyRow], catalog: DeviceCatalog) -> [(row: LatencyRow, estimate: Double)] {
        guard rows.count > 1 else { return [] }
        return rows.indices.map { i in
            var others = rows
            let held = others.remove(at: i)
            return (held, estimate(held, catalog: fitLatencyParameters(others, catalog: catalog)) ?? .nan)
        }
    }

    /// `starts` beyond the catalog's own parameters search other basins: the full fit's job;
    /// refits of nearly the same rows start where it ended.
    private static func fitLatencyParameters(_ rows: [LatencyRow], catalog: DeviceCatalog, starts: Int = 0) -> DeviceCatalog {
        let chips = Array(Set(rows.map(\.chip))).sorted()
        // The iOS 18 changes are fitted only when iOS 18 rows are there to fit them.
        let fitsIOS18 = rows.contains { $0.os >= .iOS18 }
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
            if fitsIOS18 {
                c.latency.neuralEngineIOS18.weightBandwidthFactor = Figure(v[7], source: source)
                c.latency.neuralEngineIOS18.decompressionNanosecondsPerWeight = Figure(v[8], source: source)
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
        let ne = catalog.latency.neuralEngine, ios18 = catalog.latency.neuralEngineIOS18
        let current = [ne.efficiency, ne.depthwiseEfficiency, ne.activationBandwidthFactor, ne.weightBandwidthFactor,
                       ne.decompressionNanosecondsPerWeight, ne.opOverheadMicroseconds, ne.fixedOverheadMilliseconds,
                       ios18.weightBandwidthFactor, ios18.decompressionNanosecondsPerWeight].map(\.value)
        let start = zip(current, latencyBounds).map { $1.position(of: $0) }
        // Four significant digits are plenty for figures a reader compares with hardware specs.
        var fitted = apply(NelderMead.minimizeFromSeveralStarts(loss, around: start, count: starts).point, to: catalog).roundingFittedFigures()
        fitted.calibratedChips = chips
        return fitted
    }

    /// The accuracy parameters fitted to `rows`: the noise coefficient, its exponent and the
    /// depthwise sensitivity, by least squares of log points (a row losing 0.05 points weighs
    /// as much as one losing 50; `accuracyResolution` keeps measurement noise on the smallest
    /// rows from dominating). The band is set from each row's error when left out of the fit,
    /// so it states what a model no fit has seen can expect; the fitted range is recorded so
    /// estimates beyond it widen their band.
    public static func fitAccuracy(_ rows: [AccuracyRow], parameters: AccuracyParameters) -> AccuracyParameters {
        var fitted = fitAccuracyCoefficients(rows, parameters: parameters)
        fitted.fittedRange = fittedRange(rows)
        var smallErrors: [Double] = [], relativeErrors: [Double] = []
        if rows.count > 1 {
            for i in rows.indices {
                var others = rows
                let held = others.remove(at: i)
                var p = fitAccuracyCoefficients(others, parameters: parameters)
                p.fittedRange = fittedRange(others)
                let model = AccuracyModel(parameters: p)
                let estimate = model.estimate(held.layers)
                // An error made outside the fitted range is owed to the widening, not the band.
                let error = abs(estimate.points - held.publishedPoints) / model.widening(estimate.extrapolations)
                if abs(held.publishedPoints) < largeChangePoints {
                    smallErrors.append(error)
                } else {
                    relativeErrors.append(error / max(abs(estimate.points), accuracyResolution))
                }
            }
        }
        let source = "largest error of a published row left out of the fit (\(rows.count) rows)"
        fitted.bandPoints = Figure(max(accuracyResolution, ((smallErrors.max() ?? 0) * 20).rounded(.up) / 20), source: source + ", at least \(accuracyResolution)")
        fitted.bandFraction = Figure(max(0.25, ((relativeErrors.max() ?? 0) * 20).rounded(.up) / 20), source: source + ", at least 0.25")
        return fitted
    }

    /// Published top-1 is given to two decimals and varies by about this much between
    /// evaluation runs: the fit's floor and the band's.
    static let accuracyResolution = 0.1
    /// Rows that lose at least this many points set the band's fraction; smaller ones its points.
    static let largeChangePoints = 0.5

    static func fittedRange(_ rows: [AccuracyRow]) -> AccuracyParameters.FittedRange {
        let forms = rows.flatMap { $0.layers.filter { $0.sqnrDB != nil }.compactMap(\.form) }
        return .init(lowestBits: forms.map(\.bits).min() ?? 8, groupedLUTs: forms.contains(where: \.grouped),
                     attention: rows.contains { $0.layers.contains(where: \.isAttentionProjection) })
    }

    private static func fitAccuracyCoefficients(_ rows: [AccuracyRow], parameters: AccuracyParameters) -> AccuracyParameters {
        let source = "fitted: quantd calibrate on \(rows.count) published post-training accuracy rows"
        func apply(_ x: [Double]) -> AccuracyParameters {
            var p = parameters
            p.noiseCoefficient = Figure(accuracyBounds[0].value(at: x[0]), source: source)
            p.depthwiseSensitivity = Figure(accuracyBounds[1].value(at: x[1]), source: source)
            p.noiseExponent = Figure(accuracyBounds[2].value(at: x[2]), source: source)
            // Ranges do not matter while fitting: only the points do.
            p.fittedRange = .init(lowestBits: 1, groupedLUTs: true, attention: true)
            return p
        }
        func loss(_ x: [Double]) -> Double {
            let model = AccuracyModel(parameters: apply(x))
            let misfit = rows.reduce(0) { sum, row in
                // Losses as positive points; a published gain counts as no loss.
                let r = log(-model.estimate(row.layers).points + accuracyResolution) - log(max(-row.publishedPoints, 0) + accuracyResolution)
                return sum + r * r
            }
            // A weak pull of the exponent towards linear, for fits the rows do not pin down.
            let exponent = log(accuracyBounds[2].value(at: x[2]))
            return misfit + 1e-3 * exponent * exponent
        }
        let start = [accuracyBounds[0].position(of: parameters.noiseCoefficient.value), accuracyBounds[1].position(of: parameters.depthwiseSensitivity.value),
                     accuracyBounds[2].position(of: parameters.noiseExponent.value)]
        var fitted = apply(NelderMead.minimizeWithRestarts(loss, from: start).point)
        fitted.noiseCoefficient.value = significant(fitted.noiseCoefficient.value)
        fitted.depthwiseSensitivity.value = significant(fitted.depthwiseSensitivity.value)
        fitted.noiseExponent.value = significant(fitted.noiseExponent.value)
        fitted.fittedRange = parameters.fittedRange
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
}

/// Efficiency, depthwise efficiency, activation and weight bandwidth factors, decompression
/// ns per weight, op overhead µs, fixed overhead ms; then iOS 18's weight bandwidth factor and
/// decompression ns per weight.
private let latencyBounds = [Bound(low: 0.01, high: 1), Bound(low: 0.005, high: 1), Bound(low: 0.1, high: 20), Bound(low: 0.1, high: 200),
                             Bound(low: 0, high: 1), Bound(low: 0, high: 50), Bound(low: 0, high: 1),
                             Bound(low: 0.1, high: 200), Bound(low: 0, high: 1)]

/// Noise coefficient (points per unit of weighted noise power), depthwise sensitivity, noise
/// exponent.
private let accuracyBounds = [Bound(low: 0, high: 10_000), Bound(low: 0, high: 100), Bound(low: 0.5, high: 2)]

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
        for path in [\RuntimeChanges.weightBandwidthFactor, \.decompressionNanosecondsPerWeight, \.sparseSkipDensity]
        where c.latency.neuralEngineIOS18[keyPath: path].isFitted {
            c.latency.neuralEngineIOS18[keyPath: path].value = significant(c.latency.neuralEngineIOS18[keyPath: path].value)
        }
        return c
    }
}
