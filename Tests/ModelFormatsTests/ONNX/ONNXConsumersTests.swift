import Testing
@testable import ModelFormats

/// coremltools' output-channel axes, per reading op and input.
@Suite struct ONNXConsumersTests {
    typealias M = ONNXTestModels

    static func axes(_ nodes: [OnnxSubset_NodeProto], dims: [Int64] = [4, 3, 2, 2]) throws -> (Int?, Int?) {
        let model = try M.parse(M.model(nodes: nodes, initializers: [M.weight("W", dims: dims)]))
        return (model.weights[0].outputAxis, model.weights[0].inputAxis)
    }

    @Test func convWeightsHaveOutputChannelsFirst() throws {
        #expect(try Self.axes([M.node("Conv", ["x", "W"], ["y"])]) == (0, 1))
    }

    @Test func convTransposeWeightsHaveThemSecond() throws {
        #expect(try Self.axes([M.node("ConvTranspose", ["x", "W"], ["y"])]) == (1, 0))
    }

    @Test func gemmBFollowsTransB() throws {
        #expect(try Self.axes([M.node("Gemm", ["x", "W"], ["y"], ints: ["transB": 1])], dims: [3, 4]) == (0, 1))
        #expect(try Self.axes([M.node("Gemm", ["x", "W"], ["y"])], dims: [4, 3]) == (1, 0))
    }

    @Test func gemmAAndCAreNotWeightsWithAnAxis() throws {
        #expect(try Self.axes([M.node("Gemm", ["W", "b"], ["y"])], dims: [4, 3]) == (nil, nil))
        #expect(try Self.axes([M.node("Gemm", ["x", "b", "W"], ["y"])], dims: [3]) == (nil, nil))
    }

    @Test func matMulBHasOutputsLastAndMatMulANone() throws {
        #expect(try Self.axes([M.node("MatMul", ["x", "W"], ["y"])], dims: [2, 4, 3]) == (2, 1))
        #expect(try Self.axes([M.node("MatMul", ["W", "x"], ["y"])], dims: [4, 3]) == (nil, nil))
    }

    @Test func gatherDataIsAnEmbeddingTableWithRowsFirst() throws {
        #expect(try Self.axes([M.node("Gather", ["W", "ids"], ["y"])], dims: [10, 4]) == (0, 1))
    }

    @Test func readersThatAgreeKeepTheirAxisAndOnesThatDisagreeLoseIt() throws {
        #expect(try Self.axes([M.node("Conv", ["x", "W"], ["y"]), M.node("Gather", ["W", "i"], ["z"])]) == (0, 1))
        #expect(try Self.axes([M.node("Conv", ["x", "W"], ["y"]), M.node("ConvTranspose", ["x", "W"], ["z"])]) == (nil, nil))
    }

    @Test func consumerTypesCarryTheirDomainOutsideTheDefaultOne() throws {
        let model = try M.parse(M.model(nodes: [M.node("FusedConv", ["x", "W"], ["y"], domain: "com.microsoft"),
                                                M.node("Conv", ["x", "W"], ["z"])],
                                        initializers: [M.weight("W", dims: [2, 2])]))
        #expect(model.weights[0].consumerTypes == ["com.microsoft.FusedConv", "Conv"])
    }

    @Test func inputAxisPairsAsTheCoreMLPathDoes() {
        #expect(ONNXConsumers.inputAxis(output: 0, rank: 4) == 1)
        #expect(ONNXConsumers.inputAxis(output: 3, rank: 4) == 2)
        #expect(ONNXConsumers.inputAxis(output: 2, rank: 4) == 3)
        #expect(ONNXConsumers.inputAxis(output: 1, rank: 4) == 0)
        #expect(ONNXConsumers.inputAxis(output: 0, rank: 1) == nil)
        #expect(ONNXConsumers.inputAxis(output: nil, rank: 2) == nil)
    }
}
