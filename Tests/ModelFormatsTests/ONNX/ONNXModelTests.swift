import Foundation
import QuantCore
import SwiftProtobuf
import Testing
@testable import ModelFormats

@Suite struct ONNXModelTests {
    typealias M = ONNXTestModels

    @Test func aBareModelListsItsFloatInitializersWithConsumersAndAxes() throws {
        let model = try M.parse(M.matMul)
        #expect(model.weights.map(\.name) == ["W", "bias"])
        let w = model.weights[0]
        #expect(w.shape == [4, 3] && w.scalarType == .float32 && w.consumerTypes == ["MatMul"])
        #expect(w.outputAxis == 1 && w.inputAxis == 0)
        #expect(w.elementCount == 12 && w.byteCount == 48 && w.keptBecause == nil)
        #expect(model.weights[1].outputAxis == 0 && model.weights[1].inputAxis == nil)
        #expect(model.opsetVersion == 17 && model.irVersion == 8 && !model.usesExternalData)
        #expect(model.fileName == "model.onnx")
    }

    @Test func weightBytesComeFromRawData() throws {
        let model = try M.parse(M.matMul)
        let bytes = model.withBytes(of: model.weights[0]) { Array($0) }
        #expect(bytes == M.floats((0..<12).map { Float($0) * 0.25 - 1 }))
    }

    @Test func integerInitializersAreNotWeights() throws {
        var proto = M.matMul
        proto.graph.initializer.append(M.tensor("shape", .int64, dims: [2], raw: [UInt8](repeating: 0, count: 16)))
        #expect(try M.parse(proto).weights.map(\.name) == ["W", "bias"])
    }

    @Test func halfPrecisionWeightsInInt32DataAreWidenedToTheirBitPatterns() throws {
        var tensor = OnnxSubset_TensorProto()
        tensor.name = "W"
        tensor.dataType = ONNXDataType.float16.rawValue
        tensor.dims = [2, 2]
        tensor.int32Data = [0x3C00, 0x4000, 0xBC00, 0x0000]  // 1, 2, -1, 0
        var proto = M.matMul
        proto.graph.initializer[0] = tensor
        let model = try M.parse(proto)
        #expect(model.weights[0].scalarType == .float16)
        #expect(model.withBytes(of: model.weights[0]) { Array($0) } == [0x00, 0x3C, 0x00, 0x40, 0x00, 0xBC, 0x00, 0x00])
    }

    @Test func floatDataIsReadAsItIs() throws {
        var tensor = OnnxSubset_TensorProto()
        tensor.name = "W"
        tensor.dataType = ONNXDataType.float.rawValue
        tensor.dims = [2]
        tensor.floatData = [1.5, -2]
        var proto = M.matMul
        proto.graph.initializer[0] = tensor
        let model = try M.parse(proto)
        #expect(model.withBytes(of: model.weights[0]) { Array($0) } == M.floats([1.5, -2]))
    }

    @Test func typedFieldsOfTheWrongLengthAreRefused() {
        var tensor = OnnxSubset_TensorProto()
        tensor.name = "W"
        tensor.dataType = ONNXDataType.bfloat16.rawValue
        tensor.dims = [3]
        tensor.int32Data = [1, 2]
        var proto = M.matMul
        proto.graph.initializer[0] = tensor
        #expect(throws: ONNXError.sizeMismatch(tensor: "W", expected: 6, actual: 4)) { try M.parse(proto) }
    }

    @Test func constantNodeValuesAreWeightsNamedByTheirOutput() throws {
        let proto = M.model(nodes: [M.constant("C", M.weight("ignored", dims: [3, 2])), M.node("Conv", ["x", "C"], ["y"])])
        let model = try M.parse(proto)
        #expect(model.weights.map(\.name) == ["C"])
        #expect(model.weights[0].consumerTypes == ["Conv"] && model.weights[0].outputAxis == 0)
        #expect(model.withBytes(of: model.weights[0]) { $0.count } == 24)
    }

    @Test func weightsReadInsideASubgraphAreKept() throws {
        var proto = M.matMul
        proto.graph.node.append(M.readingInSubgraph("W"))
        let model = try M.parse(proto)
        #expect(model.weights[0].keptBecause == "it is read inside a subgraph (If, Loop or Scan body)")
        #expect(model.weights[1].keptBecause == nil)
    }

    @Test(arguments: [6, 11])
    func irVersionsOutsideSevenToTenAreRefused(version: Int64) {
        var proto = M.matMul
        proto.irVersion = version
        #expect(throws: ONNXError.unsupportedIRVersion(Int(version))) { try M.parse(proto) }
    }

    @Test(arguments: [12, 22])
    func opsetsOutsideThirteenToTwentyOneAreRefused(version: Int64) {
        var proto = M.matMul
        proto.opsetImport[0].version = version
        #expect(throws: ONNXError.unsupportedOpset(Int(version))) { try M.parse(proto) }
    }

    @Test func aModelWithoutADefaultDomainOpsetIsRefused() {
        var proto = M.matMul
        proto.opsetImport[0].domain = "com.microsoft"
        #expect(throws: ONNXError.unsupportedOpset(nil)) { try M.parse(proto) }
    }

    @Test func bytesThatAreNotAModelAreUnreadable() {
        #expect {
            try M.parse([0xFF, 0xFF, 0xFF, 0xFF])
        } throws: { error in
            if case ONNXError.unreadable = error { return true }
            return false
        }
    }

    @Test func deeplyNestedSubgraphsHitTheDepthLimit() {
        // Graph → Node → Attribute → Graph …: 3 messages per level, from inside out.
        var graph: [UInt8] = []
        for _ in 0..<30 {
            let attribute = ProtoWire.lengthDelimitedField(6, graph)
            let node = ProtoWire.lengthDelimitedField(5, attribute)
            graph = ProtoWire.lengthDelimitedField(1, node)
        }
        let model = ProtoWire.varintField(1, 8) + ProtoWire.lengthDelimitedField(7, graph)
        #expect(throws: ONNXError.nestedTooDeeply(limit: ONNXModel.messageDepthLimit)) { try M.parse(model) }
    }

    @Test func negativeAndOverflowingDimensionsAreRefused() {
        for dims: [Int64] in [[-1, 4], [Int64.max, 2], [1 << 40, 1 << 40]] {
            var proto = M.matMul
            proto.graph.initializer[0] = M.tensor("W", dims: dims, raw: [])
            #expect(throws: ONNXError.invalidShape(tensor: "W", dims: dims)) { try M.parse(proto) }
        }
    }

    @Test func rawDataOfTheWrongSizeIsRefused() {
        var proto = M.matMul
        proto.graph.initializer[0] = M.tensor("W", dims: [4, 3], raw: [UInt8](repeating: 0, count: 40))
        #expect(throws: ONNXError.sizeMismatch(tensor: "W", expected: 48, actual: 40)) { try M.parse(proto) }
    }

    @Test func segmentedTensorsAreRefused() {
        var proto = M.matMul
        proto.graph.initializer[0].segment.begin = 0
        proto.graph.initializer[0].segment.end = 6
        #expect(throws: ONNXError.segmentedTensor("W")) { try M.parse(proto) }
    }
}
