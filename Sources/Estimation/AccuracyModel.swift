import Foundation

/// Data-free estimate of the change in task accuracy from per-layer quantization error.
///
/// Each compressed layer adds noise of relative power 10^(−SQNR/10) to its output; the
/// accuracy lost is taken as proportional to that noise summed over layers, weighted by how
/// sensitive a layer is: depthwise convolutions (few weights per output, no averaging of the
/// noise), the first and last layers, and attention projections count more. The coefficients
/// are fitted to Apple's published post-training rows (never to training-time rows, which
/// quantd cannot reproduce); the band comes from the fit's residuals.
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

        public init(name: String, sqnrDB: Double?, isDepthwise: Bool, isEdge: Bool, isAttentionProjection: Bool) {
            self.name = name
            self.sqnrDB = sqnrDB
            self.isDepthwise = isDepthwise
            self.isEdge = isEdge
            self.isAttentionProjection = isAttentionProjection
        }
    }

    public struct Result: Sendable, Equatable {
        /// Predicted change in top-1 accuracy, percentage points (≤ 0).
        public let points: Double
        /// ± points.
        public let band: Double
        /// Layers ordered by their share of the predicted loss, largest first.
        public let largestContributors: [(name: String, share: Double)]

        public static func == (a: Result, b: Result) -> Bool {
            a.points == b.points && a.band == b.band && a.largestContributors.map(\.name) == b.largestContributors.map(\.name)
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

    public func estimate(_ layers: [Layer]) -> Result {
        let noises = layers.map(noise)
        let total = noises.reduce(0, +)
        let points = -parameters.noiseCoefficient.value * total
        let band = max(parameters.bandPoints.value, parameters.bandFraction.value * abs(points))
        let contributors = zip(layers, noises).filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.prefix(3)
            .map { (name: $0.0.name, share: total > 0 ? $0.1 / total : 0) }
        return Result(points: points, band: band, largestContributors: Array(contributors))
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
                         isEdge: op.name == first || op.name == last, isAttentionProjection: isAttentionProjection(name))
        }
    }
}

public struct AccuracyParameters: Codable, Sendable, Equatable {
    /// Points of top-1 lost per unit of summed sensitivity-weighted noise power.
    public var noiseCoefficient: Figure
    public var depthwiseSensitivity: Figure
    public var edgeSensitivity: Figure
    public var attentionSensitivity: Figure
    /// The band is the larger of these points and this fraction of the estimate.
    public var bandPoints: Figure
    public var bandFraction: Figure

    enum CodingKeys: String, CodingKey {
        case noiseCoefficient = "noise_coefficient", depthwiseSensitivity = "depthwise_sensitivity"
        case edgeSensitivity = "edge_sensitivity", attentionSensitivity = "attention_sensitivity"
        case bandPoints = "band_points", bandFraction = "band_fraction"
    }
}
