import Foundation
import ModelFormats

/// Data-free estimate of the change in task accuracy from per-layer quantization error.
///
/// Each compressed layer adds noise of relative power 10^(−SQNR/10) to its output; the noise
/// is summed over layers, weighted by how sensitive a layer is: depthwise convolutions (few
/// weights per output, no averaging of the noise), the first and last layers, and attention
/// projections count more. Accuracy lost grows as a power of that sum: linearly while the
/// noise is small, faster once errors compound through the network (3-bit LUTs). The
/// coefficients are fitted to Apple's published post-training rows (never to training-time
/// rows, which quantd cannot reproduce).
///
/// The band is a promise about rows no fit has seen: it comes from each fitted row's error
/// when that row was left out of the fit, and it widens for a model or config unlike any the
/// fit saw (fewer bits than its lowest, grouped LUTs, attention blocks).
public struct AccuracyModel: Sendable {
    public let parameters: AccuracyParameters

    public init(parameters: AccuracyParameters) {
        self.parameters = parameters
    }

    public struct Layer: Sendable, Equatable {
        public var name: String
        /// nil when the layer is unchanged (or reproduced exactly).
        public var sqnrDB: Double?
        public var isDepthwise: Bool
        /// The first or last layer with weights.
        public var isEdge: Bool
        public var isAttentionProjection: Bool
        /// How the layer's weight is stored once compressed; nil when not known.
        public var form: StoredWeightForm?

        public init(name: String, sqnrDB: Double?, isDepthwise: Bool, isEdge: Bool, isAttentionProjection: Bool, form: StoredWeightForm? = nil) {
            self.name = name
            self.sqnrDB = sqnrDB
            self.isDepthwise = isDepthwise
            self.isEdge = isEdge
            self.isAttentionProjection = isAttentionProjection
            self.form = form
        }
    }

    /// Why an estimate lies outside what the fit has seen.
    public enum Extrapolation: Sendable, Equatable, CustomStringConvertible {
        /// Compressed to fewer bits than any fitted row.
        case fewerBits(Int)
        case groupedLUTs
        case attention

        public var description: String {
            switch self {
            case .fewerBits(let bits): "\(bits)-bit weights, below the fitted rows' lowest"
            case .groupedLUTs: "grouped look-up tables, which no fitted row uses"
            case .attention: "attention projections, which no fitted model has"
            }
        }
    }

    public struct Result: Sendable, Equatable {
        /// Predicted change in top-1 accuracy, percentage points (≤ 0).
        public let points: Double
        /// ± points.
        public let band: Double
        /// Layers ordered by their share of the predicted loss, largest first.
        public let largestContributors: [(name: String, share: Double)]
        /// Where the model or config lies outside the fit: each widens the band.
        public let extrapolations: [Extrapolation]

        public static func == (a: Result, b: Result) -> Bool {
            a.points == b.points && a.band == b.band && a.largestContributors.map(\.name) == b.largestContributors.map(\.name)
                && a.extrapolations == b.extrapolations
        }
    }

    public func sensitivity(_ layer: Layer) -> Double {
        1 + (layer.isDepthwise ? parameters.depthwiseSensitivity.value : 0)
            + (layer.isEdge ? parameters.edgeSensitivity.value : 0)
            + (layer.isAttentionProjection ? parameters.attentionSensitivity.value : 0)
    }

    /// The weighted noise of one layer.
    public func noise(_ layer: Layer) -> Double {
        guard let sqnr = layer.sqnrDB, sqnr.isFinite else { return 0 }
        return sensitivity(layer) * Self.noisePower(sqnrDB: sqnr)
    }

    public static func noisePower(sqnrDB: Double) -> Double { pow(10, -sqnrDB / 10) }

    /// What sets these layers apart from every fitted row.
    public func extrapolations(_ layers: [Layer]) -> [Extrapolation] {
        let range = parameters.fittedRange
        let compressed = layers.filter { $0.sqnrDB != nil }
        var found: [Extrapolation] = []
        if let fewest = compressed.compactMap({ $0.form?.bits }).min(), fewest < range.lowestBits { found.append(.fewerBits(fewest)) }
        if !range.groupedLUTs, compressed.contains(where: { $0.form?.grouped == true }) { found.append(.groupedLUTs) }
        if !range.attention, layers.contains(where: \.isAttentionProjection) { found.append(.attention) }
        return found
    }

    /// What the band is multiplied by for these ways of lying outside the fit.
    public func widening(_ extrapolations: [Extrapolation]) -> Double {
        pow(parameters.extrapolationBandFactor.value, Double(extrapolations.count))
    }

    public func estimate(_ layers: [Layer]) -> Result {
        let noises = layers.map(noise)
        let total = noises.reduce(0, +)
        // A classifier cannot lose more than all of its accuracy.
        let points = max(-100, -parameters.noiseCoefficient.value * pow(total, parameters.noiseExponent.value))
        let outside = extrapolations(layers)
        let band = max(parameters.bandPoints.value, parameters.bandFraction.value * abs(points)) * widening(outside)
        let contributors = zip(layers, noises).filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.prefix(3)
            .map { (name: $0.0.name, share: total > 0 ? $0.1 / total : 0) }
        return Result(points: points, band: band, largestContributors: Array(contributors), extrapolations: outside)
    }

    /// Whether a weight's name marks it as an attention projection, as exporters name them.
    public static func isAttentionProjection(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return ["q_proj", "k_proj", "v_proj", "o_proj", "query", "key", "value", "attn", "attention"].contains { lowered.contains($0) }
    }

    /// The layers of a graph, with each weight's SQNR from `sqnrByWeight` (keyed by weight name).
    public static func layers(of cost: GraphCost, sqnrByWeight: [String: Double]) -> [Layer] {
        let weighted = cost.operations.filter { $0.macs > 0 || ($0.weightName != nil && $0.category != .fusedElementwise) }
        let first = weighted.first?.name, last = weighted.last?.name
        return weighted.map { op in
            let name = op.weightName ?? op.name
            return Layer(name: name, sqnrDB: sqnrByWeight[name], isDepthwise: op.category == .depthwise,
                         isEdge: op.name == first || op.name == last, isAttentionProjection: isAttentionProjection(name),
                         form: op.weightForm)
        }
    }
}

public struct AccuracyParameters: Codable, Sendable, Equatable {
    /// Points of top-1 lost per unit of summed sensitivity-weighted noise power (to the power
    /// `noiseExponent`).
    public var noiseCoefficient: Figure
    public var noiseExponent: Figure
    public var depthwiseSensitivity: Figure
    public var edgeSensitivity: Figure
    public var attentionSensitivity: Figure
    /// The band is the larger of these points and this fraction of the estimate.
    public var bandPoints: Figure
    public var bandFraction: Figure
    /// The band's factor for each way an estimate lies outside the fitted range.
    public var extrapolationBandFactor: Figure
    public var fittedRange: FittedRange

    /// What the fitted rows covered.
    public struct FittedRange: Codable, Sendable, Equatable {
        /// The fewest bits any fitted row compressed weights to.
        public var lowestBits: Int
        public var groupedLUTs: Bool
        public var attention: Bool

        public init(lowestBits: Int, groupedLUTs: Bool, attention: Bool) {
            self.lowestBits = lowestBits
            self.groupedLUTs = groupedLUTs
            self.attention = attention
        }

        enum CodingKeys: String, CodingKey {
            case lowestBits = "lowest_bits", groupedLUTs = "grouped_luts", attention
        }
    }

    enum CodingKeys: String, CodingKey {
        case noiseCoefficient = "noise_coefficient", noiseExponent = "noise_exponent", depthwiseSensitivity = "depthwise_sensitivity"
        case edgeSensitivity = "edge_sensitivity", attentionSensitivity = "attention_sensitivity"
        case bandPoints = "band_points", bandFraction = "band_fraction", extrapolationBandFactor = "extrapolation_band_factor"
        case fittedRange = "fitted_range"
    }
}
