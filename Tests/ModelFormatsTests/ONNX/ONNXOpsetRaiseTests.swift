import Testing
@testable import ModelFormats

@Suite struct ONNXOpsetRaiseTests {
    typealias M = ONNXTestModels

    static func graph(_ node: OnnxSubset_NodeProto) -> OnnxSubset_GraphProto {
        var graph = OnnxSubset_GraphProto()
        graph.node = [node]
        return graph
    }

    @Test func reductionsWithAnAxesAttributeStopARaisePast18() throws {
        var node = M.node("ReduceMax", ["x"], ["y"])
        node.attribute = [M.node("", [], [], ints: ["axes": 0]).attribute[0]]
        #expect(throws: ONNXError.opsetRaiseChangesOp(opType: "ReduceMax", from: 17, to: 18)) {
            try ONNXOpsetRaise.check(Self.graph(node), from: 17, to: 18)
        }
        try ONNXOpsetRaise.check(Self.graph(node), from: 18, to: 21)
        try ONNXOpsetRaise.check(Self.graph(M.node("ReduceMax", ["x", "axes"], ["y"])), from: 13, to: 21)
    }

    @Test func groupNormalizationStopsARaiseTo21() {
        #expect(throws: ONNXError.opsetRaiseChangesOp(opType: "GroupNormalization", from: 18, to: 21)) {
            try ONNXOpsetRaise.check(Self.graph(M.node("GroupNormalization", ["x", "s", "b"], ["y"])), from: 18, to: 21)
        }
    }

    @Test func irVersionsFollowTheOpsetTheyCameWith() {
        #expect([13, 15, 18, 19, 20, 21].map(ONNXOpsetRaise.irVersion(forOpset:)) == [7, 8, 8, 9, 9, 10])
    }
}
