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
}
