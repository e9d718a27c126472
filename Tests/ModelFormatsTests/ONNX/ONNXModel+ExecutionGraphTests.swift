import Execution
import Foundation
import Testing
@testable import ModelFormats

/// The lowering's rules on hand-built models: inputs and constants, ONNX defaults, opset forms,
/// and refusals that name the node. Numerics are the oracle tests' (test_executor_onnx.py).
@Suite struct ONNXModelExecutionGraphTests {
    typealias M = ONNXTestModels

    static func node(_ opType: String, _ inputs: [String], _ outputs: [String], domain: String = "",
                     _ attributes: [ONNXAttribute] = []) -> OnnxSubset_NodeProto {
        var node = ONNXNode(opType: opType, domain: domain, name: "\(opType)_\(outputs[0])", inputs: inputs, outputs: outputs,
                            attributes: attributes).proto
        node.name = "\(opType)_\(outputs[0])"
        return node
    }

    static func lowered(_ nodes: [OnnxSubset_NodeProto], initializers: [OnnxSubset_TensorProto] = [],
                        inputs: [OnnxSubset_ValueInfoProto] = [M.valueInfo("x", dims: [1, 3, 8, 8])],
                        opset: Int64 = 17) throws -> ExecutionGraph {
        var proto = M.model(nodes: nodes, initializers: initializers, inputs: inputs, outputs: [M.valueInfo("y", dims: [])], opset: opset)
        if nodes.contains(where: { $0.domain == "com.microsoft" }) {
            var microsoft = OnnxSubset_OperatorSetIdProto()
            microsoft.domain = "com.microsoft"
            microsoft.version = 1
            proto.opsetImport.append(microsoft)
        }
        return try M.parse(proto).executionGraph()
    }

    static func int64s(_ name: String, _ values: [Int64]) -> OnnxSubset_TensorProto {
        M.tensor(name, .int64, dims: [Int64(values.count)], raw: values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } })
    }

    // MARK: Inputs, outputs and constants

    @Test func inputsLeaveOutInitializersAndWidenTheirTypes() throws {
        var ids = M.valueInfo("ids", .int32, dims: [2, 0])
        var dynamic = OnnxSubset_TensorShapeProto.Dimension()
        dynamic.dimParam = "sequence"
        ids.type.tensorType.shape.dim[1] = dynamic
        var proto = M.model(nodes: [M.node("Add", ["x", "W"], ["y"])], initializers: [M.weight("W", dims: [4])],
                            inputs: [M.valueInfo("x", .float16, dims: [4]), M.valueInfo("W", dims: [4]), ids,
                                     M.valueInfo("flag", .bool, dims: [1]), M.valueInfo("d", .double, dims: [])],
                            outputs: [M.valueInfo("y", dims: [4])])
        proto.graph.input[2].type.tensorType.shape.dim.append(OnnxSubset_TensorShapeProto.Dimension())
        let graph = try M.parse(proto).executionGraph()
        #expect(graph.inputs == [
            GraphInput(name: "x", elementType: .float32, shape: [4]),
            GraphInput(name: "ids", elementType: .int64, shape: [2, nil, nil]),
            GraphInput(name: "flag", elementType: .bool, shape: [1]),
            GraphInput(name: "d", elementType: .float32, shape: []),
        ])
        #expect(graph.outputs == ["y"])
        #expect(graph.nodes == [Node(name: "Add_y", sourceType: "Add", operation: .binary(.add), inputs: ["x", "W"], outputs: ["y"])])
    }

    @Test func constantsAreWidenedToFloat32Int64AndBool() throws {
        var half = OnnxSubset_TensorProto()
        half.name = "half"
        half.dataType = ONNXDataType.float16.rawValue
        half.dims = [2]
        half.int32Data = [0x3C00, 0xC000]  // 1, -2
        let graph = try Self.lowered([M.node("Identity", ["x"], ["y"])], initializers: [
            half,
            M.tensor("codes", .int8, dims: [3], raw: [0xFF, 0x7F, 0x80]),
            M.tensor("nibbles", .int4, dims: [3], raw: [0x8F, 0x07]),
            M.tensor("unsigned", .uint16, dims: [1], raw: [0xFF, 0xFF]),
            M.tensor("mask", .bool, dims: [2], raw: [1, 0]),
            M.tensor("bf", .bfloat16, dims: [1], raw: [0x80, 0x3F]),
        ])
        #expect(graph.constants["half"] == ConstantTensor(shape: [2], elements: .float32([1, -2])))
        #expect(graph.constants["codes"] == ConstantTensor(shape: [3], elements: .int64([-1, 127, -128])))
        #expect(graph.constants["nibbles"] == ConstantTensor(shape: [3], elements: .int64([-1, -8, 7])))
        #expect(graph.constants["unsigned"] == ConstantTensor(shape: [1], elements: .int64([65535])))
        #expect(graph.constants["mask"] == ConstantTensor(shape: [2], elements: .bool([true, false])))
        #expect(graph.constants["bf"] == ConstantTensor(shape: [1], elements: .float32([1])))
    }

    @Test func sparseInitializersAreMadeDense() throws {
        var proto = M.model(nodes: [M.node("Identity", ["W"], ["y"])], outputs: [M.valueInfo("y", dims: [2, 3])])
        var sparse = OnnxSubset_SparseTensorProto()
        sparse.values = M.tensor("W", dims: [2], raw: M.floats([1.5, -3]))
        sparse.indices = M.tensor("W_positions", .int8, dims: [2], raw: [1, 5])
        sparse.dims = [2, 3]
        proto.graph.sparseInitializer = [sparse]
        var coordinates = sparse
        coordinates.values.name = "V"
        coordinates.indices = Self.int64s("V_coordinates", [0, 2, 1, 0])
        coordinates.indices.dims = [2, 2]
        proto.graph.sparseInitializer.append(coordinates)
        let graph = try M.parse(proto).executionGraph()
        #expect(graph.constants["W"] == ConstantTensor(shape: [2, 3], elements: .float32([0, 1.5, 0, 0, 0, -3])))
        #expect(graph.constants["V"] == ConstantTensor(shape: [2, 3], elements: .float32([0, 0, 1.5, -3, 0, 0])))
    }

    @Test func constantNodesBecomeConstantsInEveryForm() throws {
        let graph = try Self.lowered([
            M.constant("t", Self.int64s("t", [4, 5])),
            Self.node("Constant", [], ["f"], [.init("value_float", .float(0.5))]),
            Self.node("Constant", [], ["i"], [.init("value_ints", .ints([1, 2, 3]))]),
            M.node("Identity", ["x"], ["y"]),
        ])
        #expect(graph.constants["t"] == ConstantTensor(shape: [2], elements: .int64([4, 5])))
        #expect(graph.constants["f"] == ConstantTensor(shape: [], elements: .float32([0.5])))
        #expect(graph.constants["i"] == ConstantTensor(shape: [3], elements: .int64([1, 2, 3])))
        #expect(graph.nodes.map(\.sourceType) == ["Identity"])
    }

    @Test func theGraphOwnsItsConstantsAfterTheUploadIsGone() throws {
        var proto = M.matMul
        proto.graph.initializer[0] = M.external("W", dims: [4, 3], location: "weights.bin")
        let values = (0..<12).map { Float($0) / 4 }
        let upload = ZipTestBytes.archive([.init(name: "net.onnx", data: M.bytes(proto)), .init(name: "weights.bin", data: M.floats(values))])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: upload.count, alignment: 64)
        buffer.copyMemory(from: UnsafeRawBufferPointer(start: upload, count: upload.count))
        let graph = try ONNXModel(archiveOrModel: UnsafeRawBufferPointer(buffer)).executionGraph()
        buffer.initializeMemory(as: UInt8.self, repeating: 0xFF)
        buffer.deallocate()
        #expect(graph.constants["W"] == ConstantTensor(shape: [4, 3], elements: .float32(values)))
    }

    // MARK: Defaults and forms

    @Test func convolutionDefaultsComeFromTheWeightsRank() throws {
        let graph = try Self.lowered([M.node("Conv", ["x", "w"], ["y"])], initializers: [M.weight("w", dims: [4, 3, 3, 3])])
        #expect(graph.nodes[0].operation == .convolution(Convolution(strides: [1, 1], dilations: [1, 1], padding: .explicit([0, 0, 0, 0]), groups: 1)))
        #expect(graph.nodes[0].inputs == ["x", "w"])
    }

    @Test func convolutionAutoPadAndAttributesAreKept() throws {
        let graph = try Self.lowered([Self.node("Conv", ["x", "w", "b"], ["y"], [
            .init("auto_pad", .string("SAME_LOWER")), .init("strides", .ints([2, 2])), .init("group", .int(3)),
        ])], initializers: [M.weight("w", dims: [6, 1, 3, 3]), M.weight("b", dims: [6])])
        #expect(graph.nodes[0].operation == .convolution(Convolution(strides: [2, 2], dilations: [1, 1], padding: .sameLower, groups: 3)))
    }

    @Test func anUnknownAutoPadAndAnIntegerWeightAreRefused() {
        #expect(throws: ExecutionError.unsupportedUse(name: "Conv_y", type: "Conv",
                                                      reason: "auto_pad 'SAME' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")) {
            try Self.lowered([Self.node("Conv", ["x", "w"], ["y"], [.init("auto_pad", .string("SAME"))])],
                             initializers: [M.weight("w", dims: [4, 3, 3, 3])])
        }
        #expect(throws: ExecutionError.unsupportedUse(name: "Conv_y", type: "Conv", reason: "its weight 'w' is not a float tensor")) {
            try Self.lowered([M.node("Conv", ["x", "w"], ["y"])], initializers: [M.tensor("w", .int8, dims: [1, 3, 1, 1], raw: [1, 2, 3])])
        }
    }

    @Test func aConvolutionReadingADequantizedWeightKnowsItsRank() throws {
        let graph = try Self.lowered([
            M.node("DequantizeLinear", ["w_q", "w_s"], ["w"], ints: ["axis": 0]), M.node("Conv", ["x", "w"], ["y"]),
        ], initializers: [M.tensor("w_q", .int8, dims: [2, 3, 1, 1], raw: [1, 2, 3, 4, 5, 6]), M.weight("w_s", dims: [2])])
        #expect(graph.nodes[0].operation == .dequantizeLinear(axis: 0, blockSize: nil))
        #expect(graph.nodes[1].operation == .convolution(Convolution(strides: [1, 1], dilations: [1, 1], padding: .explicit([0, 0, 0, 0]), groups: 1)))
    }

    @Test func poolingKeepsCeilModeCountIncludePadAndDilations() throws {
        let graph = try Self.lowered([
            Self.node("AveragePool", ["x"], ["a"], [.init("kernel_shape", .ints([3, 3])), .init("ceil_mode", .int(1)),
                                                    .init("count_include_pad", .int(1)), .init("pads", .ints([1, 1, 1, 1]))]),
            Self.node("MaxPool", ["a"], ["y"], [.init("kernel_shape", .ints([2, 2])), .init("dilations", .ints([2, 2])),
                                                .init("auto_pad", .string("VALID"))]),
        ], opset: 19)
        #expect(graph.nodes[0].operation == .pool(Pooling(kind: .average, kernel: [3, 3], strides: [1, 1], dilations: [1, 1],
                                                          padding: .explicit([1, 1, 1, 1]), ceilMode: true, countIncludesPadding: true)))
        #expect(graph.nodes[1].operation == .pool(Pooling(kind: .max, kernel: [2, 2], strides: [1, 1], dilations: [2, 2],
                                                          padding: .valid, ceilMode: false, countIncludesPadding: false)))
    }

    @Test func reduceAxesAreAnAttributeBeforeOpset18AndAnInputFrom18() throws {
        let attribute = try Self.lowered([Self.node("ReduceMean", ["x"], ["y"], [.init("axes", .ints([1])), .init("keepdims", .int(0))])])
        #expect(attribute.nodes[0].operation == .reduce(.mean, axes: [1], keepDimensions: false, noopWithEmptyAxes: false))
        #expect(attribute.nodes[0].inputs == ["x"])
        let input = try Self.lowered([Self.node("ReduceMean", ["x", "axes"], ["y"], [.init("noop_with_empty_axes", .int(1))])],
                                     initializers: [Self.int64s("axes", [-1])], opset: 18)
        #expect(input.nodes[0].operation == .reduce(.mean, axes: nil, keepDimensions: true, noopWithEmptyAxes: true))
        #expect(input.nodes[0].inputs == ["x", "axes"])
        let sum = try Self.lowered([M.node("ReduceSum", ["x", "axes"], ["y"])], initializers: [Self.int64s("axes", [1])], opset: 13)
        #expect(sum.nodes[0].operation == .reduce(.sum, axes: nil, keepDimensions: true, noopWithEmptyAxes: false))
        let all = try Self.lowered([M.node("ReduceMax", ["x"], ["y"])])
        #expect(all.nodes[0].operation == .reduce(.max, axes: nil, keepDimensions: true, noopWithEmptyAxes: false))
        #expect(all.nodes[0].inputs == ["x"])
    }

    @Test func groupNormalization18ScalesEachGroupOnAGroupedView() throws {
        let graph = try Self.lowered([M.node("GroupNormalization", ["x", "s", "b"], ["y"], ints: ["num_groups": 3])],
                                     initializers: [M.weight("s", dims: [3]), M.weight("b", dims: [3])], opset: 18)
        #expect(graph.nodes.map(\.operation) == [
            .groupNormalization(groups: 3, epsilon: 1e-5), .shape(start: 0, end: nil), .reshape(allowZero: false),
            .unsqueeze(axes: [1]), .unsqueeze(axes: [1]), .binary(.multiply), .binary(.add), .reshape(allowZero: false),
        ])
        #expect(graph.nodes[0].inputs == ["x", nil, nil])
        #expect(graph.nodes.last?.outputs == ["y"] && graph.nodes.last?.inputs == ["y::shifted", "y::shape"])
        #expect(graph.constants["y::grouped_shape"] == ConstantTensor(shape: [3], elements: .int64([0, 3, -1])))
        #expect(Set(graph.nodes.map(\.name)) == ["GroupNormalization_y"])
    }

    @Test func groupNormalization21ScalesEachChannel() throws {
        let graph = try Self.lowered([M.node("GroupNormalization", ["x", "s", "b"], ["y"], ints: ["num_groups": 3])],
                                     initializers: [M.weight("s", dims: [6]), M.weight("b", dims: [6])], opset: 21)
        #expect(graph.nodes.map(\.operation) == [.groupNormalization(groups: 3, epsilon: 1e-5)])
    }

    @Test func layerNormalizationNormalizesFromItsAxisToTheLast() throws {
        let negative = try Self.lowered([M.node("LayerNormalization", ["x", "s"], ["y"])], initializers: [M.weight("s", dims: [8])])
        #expect(negative.nodes[0].operation == .layerNormalization(axes: [-1], epsilon: 1e-5))
        let positive = try Self.lowered([M.node("LayerNormalization", ["x", "s"], ["y"], ints: ["axis": 2])],
                                        initializers: [M.weight("s", dims: [8, 8])])
        #expect(positive.nodes[0].operation == .layerNormalization(axes: [2, 3], epsilon: 1e-5))
    }

    @Test func geluTakesItsApproximation() throws {
        let exact = try Self.lowered([M.node("Gelu", ["x"], ["y"])], opset: 20)
        #expect(exact.nodes[0].operation == .unary(.geluExact))
        let tanh = try Self.lowered([Self.node("Gelu", ["x"], ["y"], [.init("approximate", .string("tanh"))])], opset: 20)
        #expect(tanh.nodes[0].operation == .unary(.geluTanh))
    }

    @Test func variadicOpsChainAndMeanDivides() throws {
        let graph = try Self.lowered([M.node("Mean", ["x", "a", "b"], ["y"])],
                                     inputs: ["x", "a", "b"].map { M.valueInfo($0, dims: [2]) })
        #expect(graph.nodes.map(\.operation) == [.binary(.add), .binary(.add), .binary(.divide)])
        #expect(graph.nodes.map(\.inputs) == [["x", "a"], ["y::partial_0", "b"], ["y::sum", "y::count"]])
        #expect(graph.constants["y::count"] == ConstantTensor(shape: [], elements: .float32([3])))
    }

    @Test func castTargetsAreWidened() throws {
        let graph = try Self.lowered([M.node("Cast", ["x"], ["h"], ints: ["to": Int64(ONNXDataType.float16.rawValue)]),
                                      M.node("Cast", ["h"], ["i"], ints: ["to": Int64(ONNXDataType.int32.rawValue)]),
                                      M.node("Cast", ["i"], ["y"], ints: ["to": Int64(ONNXDataType.bool.rawValue)])])
        #expect(graph.nodes.map(\.operation) == [.cast(.float32), .cast(.int64), .cast(.bool)])
        #expect(throws: ExecutionError.self) {
            try Self.lowered([M.node("Cast", ["x"], ["y"], ints: ["to": Int64(ONNXDataType.string.rawValue)])])
        }
    }

    @Test func quantizeLinearSaturatesToItsZeroPointsType() throws {
        let signed = try Self.lowered([M.node("QuantizeLinear", ["x", "s", "z"], ["y"])],
                                      initializers: [M.weight("s", dims: []), M.tensor("z", .int8, dims: [], raw: [0])])
        #expect(signed.nodes[0].operation == .quantizeLinear(axis: 1, blockSize: nil, range: -128...127))
        let unsigned = try Self.lowered([M.node("QuantizeLinear", ["x", "s"], ["y"])], initializers: [M.weight("s", dims: [])])
        #expect(unsigned.nodes[0].operation == .quantizeLinear(axis: 1, blockSize: nil, range: 0...255))
        let blocked = try Self.lowered([M.node("DequantizeLinear", ["x", "s"], ["y"], ints: ["axis": 0, "block_size": 32])], opset: 21)
        #expect(blocked.nodes[0].operation == .dequantizeLinear(axis: 0, blockSize: 32))
    }

    @Test func matMulNBitsKeepsItsAttributesAndReadsPackedBytes() throws {
        let graph = try Self.lowered([Self.node("MatMulNBits", ["x", "B", "scales"], ["y"], domain: "com.microsoft", [
            .init("K", .int(16)), .init("N", .int(2)), .init("bits", .int(4)), .init("block_size", .int(16)),
        ])], initializers: [M.tensor("B", .uint8, dims: [2, 1, 8], raw: [UInt8](repeating: 0xF1, count: 16)), M.weight("scales", dims: [2])],
           inputs: [M.valueInfo("x", dims: [1, 16])])
        #expect(graph.nodes[0].operation == .matMulNBits(k: 16, n: 2, bits: 4, blockSize: 16))
        #expect(graph.nodes[0].sourceType == "com.microsoft.MatMulNBits")
        #expect(graph.constants["B"] == ConstantTensor(shape: [2, 1, 8], elements: .int64([Int64](repeating: 0xF1, count: 16))))
    }

    @Test func splitReadsItsSizesOperandOrSplitsEqually() throws {
        let graph = try Self.lowered([Self.node("Split", ["x"], ["a", "y"], [.init("axis", .int(1)), .init("num_outputs", .int(2))])], opset: 18)
        #expect(graph.nodes[0].operation == .split(axis: 1, sizes: nil) && graph.nodes[0].outputs == ["a", "y"])
    }

    @Test func omittedOptionalOperandsAreNil() throws {
        let graph = try Self.lowered([M.node("Clip", ["x", "", "hi"], ["y"])], initializers: [M.weight("hi", dims: [])])
        #expect(graph.nodes[0].operation == .clip && graph.nodes[0].inputs == ["x", nil, "hi"])
    }

    // MARK: Refusals

    @Test func anUnsupportedOpIsNamedWithItsType() {
        #expect(throws: ExecutionError.unsupportedOperation(name: "NonZero_y", type: "NonZero")) {
            try Self.lowered([M.node("Relu", ["x"], ["r"]), M.node("NonZero", ["r"], ["y"])])
        }
    }

    @Test func anotherDomainsOpIsNamedWithItsDomain() {
        #expect(throws: ExecutionError.unsupportedOperation(name: "FusedMatMul_y", type: "com.microsoft.FusedMatMul")) {
            try Self.lowered([M.node("FusedMatMul", ["x", "x"], ["y"], domain: "com.microsoft")])
        }
    }

    @Test func subgraphOpsAreRefused() {
        #expect(throws: ExecutionError.unsupportedOperation(name: "If_If_out", type: "If")) {
            try Self.lowered([M.readingInSubgraph("x")])
        }
    }

    @Test func trainingOutputsAndModesAreRefused() {
        #expect(throws: ExecutionError.unsupportedUse(name: "Dropout_y", type: "Dropout", reason: "its mask output is read")) {
            try Self.lowered([M.node("Dropout", ["x"], ["y", "mask"])])
        }
        #expect(throws: ExecutionError.unsupportedUse(name: "Pad_y", type: "Pad", reason: "mode 'wrap' is not implemented")) {
            try Self.lowered([Self.node("Pad", ["x", "p"], ["y"], [.init("mode", .string("wrap"))])],
                             initializers: [Self.int64s("p", [0, 0, 0, 0])], opset: 19)
        }
    }
}
