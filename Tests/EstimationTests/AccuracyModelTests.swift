import Foundation
import ModelFormats
import Testing
@testable import Estimation

@Suite("Accuracy model")
struct AccuracyModelTests {
    let model: AccuracyModel

    init() throws { model = AccuracyModel(parameters: try RepositoryCatalog.load().accuracy) }

    func layer(_ sqnr: Double?, depthwise: Bool = false, edge: Bool = false) -> AccuracyModel.Layer {
        .init(name: "l\(sqnr ?? 0)\(depthwise)\(edge)", sqnrDB: sqnr, isDepthwise: depthwise, isEdge: edge, isAttentionProjection: false)
    }

    @Test("noise power is 10^(−SQNR/10)")
    func noisePower() {
        #expect(abs(AccuracyModel.noisePower(sqnrDB: 20) - 0.01) < 1e-15)
        #expect(abs(AccuracyModel.noisePower(sqnrDB: 0) - 1) < 1e-15)
    }

    @Test("more SQNR never predicts more loss; unchanged layers cost nothing")
    func monotone() {
        var previous = -Double.infinity
        for sqnr in stride(from: 10.0, through: 60, by: 5) {
            let points = model.estimate([layer(sqnr), layer(nil)]).points
            #expect(points <= 0)
            #expect(points >= previous)
            previous = points
        }
        #expect(model.estimate([layer(nil)]).points == 0)
    }

    @Test("depthwise and edge layers weigh more than an inner layer at the same error")
    func sensitivity() {
        let inner = model.estimate([layer(30)]).points
        #expect(model.estimate([layer(30, depthwise: true)]).points < inner)
        #expect(model.estimate([layer(30, edge: true)]).points < inner)
    }

    @Test("the band is at least the fitted floor and grows with the estimate; the worst layer leads")
    func bandAndContributors() {
        let small = model.estimate([layer(50)])
        #expect(small.band >= model.parameters.bandPoints.value)
        let large = model.estimate([layer(12, depthwise: true), layer(40), layer(45)])
        #expect(large.band >= model.parameters.bandFraction.value * abs(large.points) - 1e-12)
        #expect(large.largestContributors.first?.name == layer(12, depthwise: true).name)
    }

    @Test("attention projections are recognised by the names exporters give them")
    func attentionNames() {
        #expect(AccuracyModel.isAttentionProjection("model.layers.0.self_attn.q_proj.weight"))
        #expect(AccuracyModel.isAttentionProjection("encoder.layer.3.attention.self.Query.weight"))
        #expect(!AccuracyModel.isAttentionProjection("model.layers.0.mlp.down_proj.weight"))
        #expect(!AccuracyModel.isAttentionProjection("conv1_weight_0"))
    }

    @Test("a config or model outside the fitted rows widens the band by the extrapolation factor each way, and says why")
    func bandsWidenOutsideTheFit() throws {
        var parameters = model.parameters
        parameters.fittedRange = .init(lowestBits: 4, groupedLUTs: false, attention: false)
        let fitted = AccuracyModel(parameters: parameters)
        let factor = parameters.extrapolationBandFactor.value
        #expect(factor > 1)
        func layer(_ name: String, bits: Int, grouped: Bool = false, attention: Bool = false) -> AccuracyModel.Layer {
            .init(name: name, sqnrDB: 20, isDepthwise: false, isEdge: false, isAttentionProjection: attention,
                  form: StoredWeightForm(kind: .palettized, bits: bits, grouped: grouped))
        }
        let inside = fitted.estimate([layer("conv", bits: 4)])
        #expect(inside.extrapolations.isEmpty)
        let threeBit = fitted.estimate([layer("conv", bits: 3)])
        #expect(threeBit.extrapolations == [.fewerBits(3)])
        let grouped = fitted.estimate([layer("conv", bits: 4, grouped: true)])
        #expect(grouped.extrapolations == [.groupedLUTs])
        #expect(abs(grouped.band - factor * inside.band) < 1e-12)
        let transformer = fitted.estimate([layer("q_proj", bits: 4, grouped: true, attention: true)])
        #expect(transformer.extrapolations == [.groupedLUTs, .attention])
        // Attention projections also count as more sensitive; the band widens on top of that.
        #expect(transformer.band >= factor * factor * max(parameters.bandPoints.value, parameters.bandFraction.value * abs(transformer.points)) - 1e-12)
        // Once the fit has seen them, they are inside.
        parameters.fittedRange = .init(lowestBits: 3, groupedLUTs: true, attention: true)
        #expect(AccuracyModel(parameters: parameters).estimate([layer("q_proj", bits: 3, grouped: true, attention: true)]).extrapolations.isEmpty)
    }

    @Test("loss grows as a power of the summed noise and never exceeds all of the accuracy")
    func exponentAndCeiling() {
        var parameters = model.parameters
        parameters.noiseCoefficient.value = 10
        parameters.noiseExponent.value = 1.5
        let m = AccuracyModel(parameters: parameters)
        let one = m.estimate([layer(0)]).points, quarter = m.estimate([layer(10 * log10(4))]).points
        #expect(abs(one / quarter - 8) < 1e-9)
        parameters.noiseCoefficient.value = 1e6
        #expect(AccuracyModel(parameters: parameters).estimate([layer(0)]).points == -100)
    }
}
