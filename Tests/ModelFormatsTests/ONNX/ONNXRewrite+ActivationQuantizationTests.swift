import Execution
import Foundation
import QuantCore
import SwiftProtobuf
import Testing
@testable import ModelFormats

@Suite struct ONNXRewriteActivationQuantizationTests {
    typealias M = ONNXTestModels
    typealias Config = ActivationQuantizationConfig

    static let uint8 = Config(global: .init(dtype: .uint8, mode: .linear))
    static let int8Symmetric = Config(global: .init(dtype: .int8, mode: .linearSymmetric))

    /// The rewritten graph, read back from the written bytes.
    struct Result {
        let graph: OnnxSubset_GraphProto
        let summary: ActivationQuantizationSummary

        func node(_ name: String) -> OnnxSubset_NodeProto? { graph.node.first { $0.name == name } }
        func producer(_ value: String) -> OnnxSubset_NodeProto? { graph.node.first { $0.output.contains(value) } }
        func readers(_ value: String) -> [String] { graph.node.filter { $0.input.contains(value) }.map(\.name) }
        func initializer(_ name: String) -> OnnxSubset_TensorProto? { graph.initializer.first { $0.name == name } }
        var quantized: [String] { graph.node.filter { $0.opType == "QuantizeLinear" }.map { $0.input[0] } }

        /// The scale and zero point a QuantizeLinear or DequantizeLinear node reads.
        func parameters(of node: OnnxSubset_NodeProto) -> (scale: Float, zeroPoint: Int32)? {
            guard let scale = initializer(node.input[1]), let zero = initializer(node.input[2]) else { return nil }
            let value = scale.rawData.withUnsafeBytes { $0.loadUnaligned(as: Float.self) }
            let code = zero.dataType == ONNXDataType.int8.rawValue ? Int32(Int8(bitPattern: zero.rawData.first!)) : Int32(zero.rawData.first!)
            return (value, code)
        }
    }

    static func run(_ model: OnnxSubset_ModelProto, _ config: Config, ranges: [String: TensorRange],
                    weights: [String] = []) throws -> Result {
        var rewrite = ONNXRewrite(try M.parse(model))
        for weight in weights {
            let dims = model.graph.initializer.first { $0.name == weight }!.dims.map(Int.init)
            try rewrite.replace(weight: weight, with: dequantization(weight, dims: dims))
        }
        let summary = try rewrite.quantizeActivations(config, ranges: ranges)
        let (_, bytes) = try M.written(rewrite)
        return Result(graph: try OnnxSubset_ModelProto(serializedBytes: bytes).graph, summary: summary)
    }

    /// `weight` as int8 codes with one scale per output channel (axis 0): what quantd's
    /// per-channel weight compression writes.
    static func dequantization(_ weight: String, dims: [Int]) -> ONNXDequantization {
        let channels = dims[0]
        return ONNXDequantization(
            initializers: [ONNXTensor(name: "\(weight)_q", dataType: .int8, dims: dims, bytes: [UInt8](repeating: 1, count: dims.reduce(1, *))),
                           ONNXTensor(name: "\(weight)_s", dataType: .float, dims: [channels],
                                      bytes: M.floats((0..<channels).map { 0.01 * Float($0 + 1) }))],
            nodes: [ONNXNode(opType: "DequantizeLinear", inputs: ["\(weight)_q", "\(weight)_s"], outputs: [weight],
                             attributes: [.init("axis", .int(0))])],
            minimumOpset: 13, minimumIRVersion: 7)
    }

    static func range(_ min: Float, _ max: Float) -> TensorRange { TensorRange(min: min, max: max) }

    /// x [1,1,4,4] → Conv(W1, B1) → h → Relu → r → Conv(W2) → y.
    static var convReluConv: OnnxSubset_ModelProto {
        M.model(nodes: [M.node("Conv", ["x", "W1", "B1"], ["h"]), M.node("Relu", ["h"], ["r"]), M.node("Conv", ["r", "W2"], ["y"])],
                initializers: [M.weight("W1", dims: [2, 1, 1, 1]), M.tensor("B1", dims: [2], raw: M.floats([0.5, -0.25])),
                               M.weight("W2", dims: [1, 2, 1, 1])],
                inputs: [M.valueInfo("x", dims: [1, 1, 4, 4])], outputs: [M.valueInfo("y", dims: [1, 1, 4, 4])])
    }

    static let convReluConvRanges = ["x": range(-1, 1), "h": range(-2, 3), "r": range(0, 3), "y": range(-0.5, 4)]

    @Test func asymmetricQuantizationRemovesTheReluAfterAConv() throws {
        let result = try Self.run(Self.convReluConv, Self.uint8, ranges: Self.convReluConvRanges, weights: ["W1", "W2"])
        #expect(!result.graph.node.contains { $0.opType == "Relu" })
        #expect(result.quantized == ["x", "r", "y_QuantizeLinear_Input"])
        #expect(result.node("Conv_h")?.input == ["x_DequantizeLinear_Output", "W1", "B1"])
        #expect(result.node("Conv_h")?.output == ["r"])
        #expect(result.readers("r_DequantizeLinear_Output") == ["Conv_y"])
        // The graph output keeps its name on the dequantized value.
        #expect(result.node("Conv_y")?.output == ["y_QuantizeLinear_Input"])
        #expect(result.producer("y")?.opType == "DequantizeLinear")
        #expect(result.summary.tensors.map(\.name) == ["x", "r", "y"])
        #expect(result.summary.quantizedOps == ["Conv_h", "Conv_y"])
        // Two pairs and a graph output's pair, and the bias's DequantizeLinear.
        #expect(result.summary.insertedOps == 7)
        #expect(try topologicallySorted(result.graph))
    }

    @Test func symmetricQuantizationKeepsTheReluAndGivesItsInputItsRange() throws {
        let result = try Self.run(Self.convReluConv, Self.int8Symmetric, ranges: Self.convReluConvRanges, weights: ["W1", "W2"])
        #expect(result.quantized == ["x", "h", "r", "y_QuantizeLinear_Input"])
        #expect(result.node("Relu_r")?.input == ["h_DequantizeLinear_Output"])
        let h = try #require(result.summary.tensors.first { $0.name == "h" })
        // adjust_tensor_ranges: h's only reader is the Relu, so h takes r's range.
        #expect(h.range == Self.range(0, 3))
        #expect(h.parameters == .onnxRuntime(min: 0, max: 3, .init(dtype: .int8, mode: .linearSymmetric)))
    }

    @Test func theBiasBecomesInt32WithInputScaleTimesWeightScale() throws {
        let result = try Self.run(Self.convReluConv, Self.uint8, ranges: Self.convReluConvRanges, weights: ["W1", "W2"])
        #expect(result.initializer("B1") == nil)
        let dequantize = try #require(result.producer("B1"))
        #expect(dequantize.opType == "DequantizeLinear" && dequantize.input == ["B1_quantized", "B1_quantized_scale", "B1_quantized_zero_point"])
        #expect(dequantize.attribute.first { $0.name == "axis" }?.i == 0)
        let inputScale = ActivationQuantizationParameters.onnxRuntime(min: -1, max: 1, .init(dtype: .uint8, mode: .linear)).scale
        let scales = try #require(result.initializer("B1_quantized_scale")).rawData.withUnsafeBytes { raw in
            (0..<2).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        #expect(scales == [inputScale * 0.01, inputScale * 0.02])
        let codes = try #require(result.initializer("B1_quantized"))
        #expect(codes.dataType == ONNXDataType.int32.rawValue)
        let values = codes.rawData.withUnsafeBytes { raw in (0..<2).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) } }
        #expect(values == [Int32((Double(Float(0.5)) / Double(scales[0])).rounded(.toNearestOrEven)),
                           Int32((Double(Float(-0.25)) / Double(scales[1])).rounded(.toNearestOrEven))])
    }

    @Test func aQuantizedOpsWeightGetsAnExplicitZeroPoint() throws {
        let result = try Self.run(Self.convReluConv, Self.uint8, ranges: Self.convReluConvRanges, weights: ["W1", "W2"])
        #expect(result.producer("W1")?.input == ["W1_q", "W1_s", "W1_zero_point"])
        let zeroPoint = try #require(result.initializer("W1_zero_point"))
        #expect(zeroPoint.dataType == ONNXDataType.int8.rawValue && zeroPoint.dims == [2] && Array(zeroPoint.rawData) == [0, 0])
    }

    @Test func aWeightKeptFloatLeavesTheBiasFloat() throws {
        let result = try Self.run(Self.convReluConv, Self.uint8, ranges: Self.convReluConvRanges)
        #expect(result.initializer("B1")?.dataType == ONNXDataType.float.rawValue)
        #expect(result.quantized == ["x", "r", "y_QuantizeLinear_Input"])
    }

    @Test func qdqParametersAreTheRulesOnTheCalibratedRange() throws {
        let result = try Self.run(Self.convReluConv, Self.uint8, ranges: Self.convReluConvRanges, weights: ["W1", "W2"])
        let config = ActivationQuantizationConfig.OpConfig(dtype: .uint8, mode: .linear)
        for (tensor, range) in [("x", Self.range(-1, 1)), ("r", Self.range(0, 3))] {
            let expected = ActivationQuantizationParameters.onnxRuntime(min: range.min, max: range.max, config)
            let quantize = try #require(result.node("\(tensor)_QuantizeLinear"))
            let dequantize = try #require(result.node("\(tensor)_DequantizeLinear"))
            for node in [quantize, dequantize] {
                let p = try #require(result.parameters(of: node))
                #expect(p.scale == expected.scale && p.zeroPoint == expected.zeroPoint)
            }
            #expect(result.initializer(quantize.input[2])?.dataType == ONNXDataType.uint8.rawValue)
            #expect(result.summary.tensors.first { $0.name == tensor }?.parameters == expected)
        }
    }

    /// x → MatMul(W) → h → Add(h, c) → y, and x → Add.
    static var matMulAdd: OnnxSubset_ModelProto {
        M.model(nodes: [M.node("MatMul", ["x", "W"], ["h"]), M.node("Add", ["h", "c"], ["y"])],
                initializers: [M.weight("W", dims: [4, 3]), M.tensor("c", dims: [3], raw: M.floats([-1, 0.5, 2]))],
                inputs: [M.valueInfo("x", dims: [1, 4])], outputs: [M.valueInfo("y", dims: [1, 3])])
    }

    static let matMulAddRanges = ["x": range(-1, 1), "h": range(-3, 2), "y": range(-4, 4)]

    @Test func matMulQuantizesItsActivationInputAndOutputButNotItsWeight() throws {
        let result = try Self.run(Self.matMulAdd, Self.uint8, ranges: Self.matMulAddRanges)
        #expect(result.node("MatMul_h")?.input == ["x_DequantizeLinear_Output", "W"])
        #expect(result.initializer("W")?.dataType == ONNXDataType.float.rawValue)
    }

    @Test func addQuantizesBothInputsAndAConstantFromItsValues() throws {
        let result = try Self.run(Self.matMulAdd, Self.uint8, ranges: Self.matMulAddRanges)
        #expect(result.node("Add_y")?.input == ["h_DequantizeLinear_Output", "c_DequantizeLinear_Output"])
        #expect(result.initializer("c") == nil)
        let codes = try #require(result.initializer("c_quantized"))
        let expected = ActivationQuantizationParameters.onnxRuntime(min: -1, max: 2, .init(dtype: .uint8, mode: .linear))
        let dequantize = try #require(result.producer("c_DequantizeLinear_Output"))
        #expect(dequantize.input == ["c_quantized", "c_scale", "c_zero_point"])
        let p = try #require(result.parameters(of: dequantize))
        #expect(p.scale == expected.scale && p.zeroPoint == expected.zeroPoint)
        #expect(Array(codes.rawData) == [-1, 0.5, 2].map { UInt8(($0 / expected.scale).rounded(.toNearestOrEven) + Float(expected.zeroPoint)) })
        #expect(result.quantized == ["x", "h", "y_QuantizeLinear_Input"])
        #expect(result.summary.tensors.map(\.name) == ["x", "c", "h", "y"])
        #expect(result.summary.tensors[1].range == Self.range(-1, 2))
    }

    @Test func aNullOpTypeConfigLeavesThatOpFloat() throws {
        let config = Config(global: .init(dtype: .uint8, mode: .linear), opTypeConfigs: ["Add": nil])
        let result = try Self.run(Self.matMulAdd, config, ranges: Self.matMulAddRanges)
        // The MatMul still quantizes its output, which the Add then reads dequantized.
        #expect(result.quantized == ["x", "h"])
        #expect(result.node("Add_y")?.input == ["h_DequantizeLinear_Output", "c"])
        #expect(result.initializer("c")?.dataType == ONNXDataType.float.rawValue)
        #expect(result.summary.quantizedOps == ["MatMul_h"])
    }

    @Test func aNullOpNameConfigWinsOverTheGlobalOne() throws {
        let config = Config(global: .init(dtype: .uint8, mode: .linear), opNameConfigs: ["MatMul_h": nil])
        let result = try Self.run(Self.matMulAdd, config, ranges: Self.matMulAddRanges)
        #expect(result.quantized == ["h", "y_QuantizeLinear_Input"])
        #expect(result.node("MatMul_h")?.input == ["x", "W"])
    }

    @Test func perOpDTypesFollowTheOpThatMarksATensorFirst() throws {
        let config = Config(global: .init(dtype: .uint8, mode: .linear), opTypeConfigs: ["MatMul": .init(dtype: .int8, mode: .linearSymmetric)])
        let result = try Self.run(Self.matMulAdd, config, ranges: Self.matMulAddRanges)
        let types = Dictionary(uniqueKeysWithValues: result.summary.tensors.map { ($0.name, $0.parameters.dtype) })
        #expect(types == ["x": .int8, "h": .int8, "c": .uint8, "y": .uint8])
    }

    /// a, b → Concat → c → MaxPool → m → Reshape → y.
    static var concatPool: OnnxSubset_ModelProto {
        M.model(nodes: [M.node("Concat", ["a", "b"], ["c"], ints: ["axis": 1]),
                        M.node("MaxPool", ["c"], ["m"], ints: [:]), M.node("Reshape", ["m", "shape"], ["y"])],
                initializers: [M.tensor("shape", .int64, dims: [2], raw: [1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255])],
                inputs: [M.valueInfo("a", dims: [1, 1, 2, 2]), M.valueInfo("b", dims: [1, 1, 2, 2])],
                outputs: [M.valueInfo("y", dims: [1, 8])])
    }

    @Test func concatQuantizesEachInputAndItsOutputWithTheirOwnRanges() throws {
        let ranges = ["a": Self.range(-1, 1), "b": Self.range(0, 5), "c": Self.range(-1, 5), "m": Self.range(0, 5), "y": Self.range(0, 5)]
        let result = try Self.run(Self.concatPool, Self.uint8, ranges: ranges)
        #expect(result.node("Concat_c")?.input == ["a_DequantizeLinear_Output", "b_DequantizeLinear_Output"])
        #expect(result.quantized == ["a", "b", "c", "m", "y_QuantizeLinear_Input"])
        // MaxPool and Reshape share the parameters of the tensor they read: c's.
        for tensor in ["m", "y"] {
            let quantize = try #require(result.node("\(tensor)_QuantizeLinear"))
            #expect(quantize.input[1] == "c_scale" && quantize.input[2] == "c_zero_point")
            #expect(result.summary.tensors.first { $0.name == tensor }?.range == Self.range(-1, 5))
        }
        #expect(result.summary.quantizedOps == ["Concat_c", "MaxPool_m", "Reshape_y"])
    }

    @Test func softmaxOutputsAreQuantizedOverZeroToOne() throws {
        let model = M.model(nodes: [M.node("Softmax", ["x"], ["y"]), M.node("Identity", ["y"], ["z"])],
                            inputs: [M.valueInfo("x", dims: [1, 4])], outputs: [M.valueInfo("z", dims: [1, 4])])
        let result = try Self.run(model, Self.uint8, ranges: ["x": Self.range(-2, 2), "y": Self.range(0.01, 0.9)])
        #expect(result.summary.tensors.first { $0.name == "y" }?.range == Self.range(0, 1))
        #expect(result.node("Identity_z")?.input == ["y_DequantizeLinear_Output"])
    }

    @Test func tensorsWithoutAFiniteRangeStayFloat() throws {
        let result = try Self.run(Self.matMulAdd, Self.uint8, ranges: ["x": Self.range(-1, 1), "h": Self.range(-.infinity, 2)])
        #expect(result.quantized == ["x"])
    }

    @Test func takenNamesGetASuffix() throws {
        var model = Self.matMulAdd
        model.graph.node.insert(M.node("Identity", ["x"], ["x_scale"]), at: 0)
        let result = try Self.run(model, Self.uint8, ranges: Self.matMulAddRanges)
        #expect(result.node("x_QuantizeLinear")?.input == ["x", "x_scale_1", "x_zero_point"])
    }

    @Test func unsortedOrSelfContradictoryGraphsAreRefused() throws {
        var unsorted = Self.matMulAdd
        unsorted.graph.node.reverse()
        #expect(throws: ONNXError.nodesOutOfOrder(node: "Add_y", input: "h")) {
            _ = try Self.run(unsorted, Self.uint8, ranges: Self.matMulAddRanges)
        }
        var twice = Self.matMulAdd
        twice.graph.node.append(M.node("Relu", ["x"], ["h"]))
        #expect(throws: ONNXError.valueDefinedTwice("h")) {
            _ = try Self.run(twice, Self.uint8, ranges: Self.matMulAddRanges)
        }
    }

    /// Every node reads only graph inputs, initializers and earlier outputs.
    func topologicallySorted(_ graph: OnnxSubset_GraphProto) throws -> Bool {
        var defined = Set(graph.input.map(\.name)).union(graph.initializer.map(\.name))
        for node in graph.node {
            guard node.input.allSatisfy({ $0.isEmpty || defined.contains($0) }) else { return false }
            defined.formUnion(node.output)
        }
        return true
    }
}
