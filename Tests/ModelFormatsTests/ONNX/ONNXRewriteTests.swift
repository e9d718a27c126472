import Foundation
import QuantCore
import SwiftProtobuf
import Testing
@testable import ModelFormats

@Suite struct ONNXRewriteTests {
    typealias M = ONNXTestModels

    /// W as int8 codes with one scale: the smallest valid replacement.
    static func dequantization(_ weight: String = "W", dims: [Int] = [4, 3], opset: Int = 13) -> ONNXDequantization {
        ONNXDequantization(
            initializers: [ONNXTensor(name: "\(weight)_q", dataType: .int8, dims: dims, bytes: [UInt8](repeating: 1, count: dims.reduce(1, *))),
                           ONNXTensor(name: "\(weight)_s", dataType: .float, dims: [], bytes: M.floats([0.5]))],
            nodes: [ONNXNode(opType: "DequantizeLinear", inputs: ["\(weight)_q", "\(weight)_s"], outputs: [weight])],
            minimumOpset: opset, minimumIRVersion: ONNXOpsetRaise.irVersion(forOpset: opset))
    }

    static func reparsed(_ rewrite: ONNXRewrite) throws -> OnnxSubset_ModelProto {
        let (kind, bytes) = try M.written(rewrite)
        #expect(kind == .model)
        return try OnnxSubset_ModelProto(serializedBytes: bytes)
    }

    @Test func replacingAWeightLeavesItsConsumersByteForByte() throws {
        let original = M.matMul
        var rewrite = ONNXRewrite(try M.parse(original))
        try rewrite.replace(weight: "W", with: Self.dequantization())
        let result = try Self.reparsed(rewrite)
        #expect(result.graph.initializer.map(\.name) == ["bias", "W_q", "W_s"])
        #expect(result.graph.node.map(\.opType) == ["DequantizeLinear", "MatMul", "Add"])
        #expect(result.graph.node[0].output == ["W"])
        #expect(try result.graph.node[1].serializedBytes() as [UInt8] == original.graph.node[0].serializedBytes())
        #expect(result.graph.input == original.graph.input && result.graph.output == original.graph.output)
        #expect(result.producerName == original.producerName)
    }

    @Test func anInitializerListedAsAGraphInputLosesThatInput() throws {
        var proto = M.matMul
        proto.graph.input.append(M.valueInfo("W", dims: [4, 3]))
        var rewrite = ONNXRewrite(try M.parse(proto))
        try rewrite.replace(weight: "W", with: Self.dequantization())
        #expect(try Self.reparsed(rewrite).graph.input.map(\.name) == ["x"])
    }

    @Test func replacementsKeepTheirOrderAheadOfTheGraph() throws {
        var rewrite = ONNXRewrite(try M.parse(M.matMul))
        try rewrite.replace(weight: "W", with: Self.dequantization())
        try rewrite.replace(weight: "bias", with: Self.dequantization("bias", dims: [3]))
        #expect(try Self.reparsed(rewrite).graph.node.map(\.output[0]) == ["W", "bias", "h", "y"])
    }

    @Test func aConstantNodeWeightIsReplacedByTheNodes() throws {
        let proto = M.model(nodes: [M.constant("C", M.weight("C", dims: [4, 3])), M.node("MatMul", ["x", "C"], ["y"])])
        var rewrite = ONNXRewrite(try M.parse(proto))
        try rewrite.replace(weight: "C", with: Self.dequantization("C"))
        let result = try Self.reparsed(rewrite)
        #expect(result.graph.node.map(\.opType) == ["DequantizeLinear", "MatMul"])
    }

    @Test func theOpsetAndIRVersionAreRaisedButNeverLowered() throws {
        var rewrite = ONNXRewrite(try M.parse(M.matMul))
        try rewrite.replace(weight: "W", with: Self.dequantization(opset: 21))
        #expect(rewrite.opsetVersion == 21 && rewrite.irVersion == 10)
        try rewrite.replace(weight: "bias", with: Self.dequantization("bias", dims: [3], opset: 13))
        #expect(rewrite.opsetVersion == 21 && rewrite.irVersion == 10)
    }

    @Test func raisingPastAnOpsetThatRedefinesAnOpIsRefused() throws {
        var proto = M.matMul
        proto.graph.node.append(M.node("ReduceMean", ["y"], ["m"], ints: ["keepdims": 1]))
        var axes = OnnxSubset_AttributeProto()
        axes.name = "axes"
        axes.type = .ints
        axes.ints = [1]
        proto.graph.node[2].attribute.append(axes)
        var rewrite = ONNXRewrite(try M.parse(proto))
        #expect(throws: ONNXError.opsetRaiseChangesOp(opType: "ReduceMean", from: 17, to: 21)) {
            try rewrite.replace(weight: "W", with: Self.dequantization(opset: 21))
        }
        try rewrite.replace(weight: "W", with: Self.dequantization(opset: 17))
    }

    @Test func replacementsThatBreakTheGraphAreRefused() throws {
        var rewrite = ONNXRewrite(try M.parse(M.matMul))
        var unnamed = Self.dequantization()
        unnamed.nodes[0].outputs = ["other"]
        #expect(throws: ONNXError.malformedReplacement(weight: "W", reason: "none of its values is named 'W'")) {
            try rewrite.replace(weight: "W", with: unnamed)
        }
        var clashing = Self.dequantization()
        clashing.initializers[0].name = "h"
        clashing.nodes[0].inputs[0] = "h"
        #expect(throws: ONNXError.nameTaken("h")) { try rewrite.replace(weight: "W", with: clashing) }
        var dangling = Self.dequantization()
        dangling.nodes[0].inputs[1] = "x"
        #expect(throws: ONNXError.malformedReplacement(weight: "W", reason: "node DequantizeLinear reads 'x' before anything defines it")) {
            try rewrite.replace(weight: "W", with: dangling)
        }
        #expect(throws: ONNXError.weightNotFound("nothing")) { try rewrite.replace(weight: "nothing", with: Self.dequantization("nothing")) }
    }

    @Test func weightsReadInSubgraphsAreNotReplaced() throws {
        var proto = M.matMul
        proto.graph.node.append(M.readingInSubgraph("W", opType: "Loop"))
        var rewrite = ONNXRewrite(try M.parse(proto))
        #expect(throws: ONNXError.notReplaceable("W", reason: "it is read inside a subgraph (If, Loop or Scan body)")) {
            try rewrite.replace(weight: "W", with: Self.dequantization())
        }
    }

    @Test func fieldsOutsideTheSubsetSurviveTheRoundTrip() throws {
        // FunctionProto (25) on the model, a TrainingInfo-like field (20), a node's device
        // configuration (10): none of them in onnx_subset.proto.
        let opaque = ProtoWire.lengthDelimitedField(25, ProtoWire.lengthDelimitedField(1, Array("fn".utf8)))
            + ProtoWire.lengthDelimitedField(20, [])
        var proto = M.matMul
        proto.graph.node[1] = try OnnxSubset_NodeProto(serializedBytes: M.node("Add", ["h", "bias"], ["y"]).serializedBytes()
                                                       + ProtoWire.lengthDelimitedField(10, Array("cfg".utf8)))
        var metadata = OnnxSubset_StringStringEntryProto()
        metadata.key = "author"
        metadata.value = "tests"
        proto.metadataProps = [metadata]
        var rewrite = ONNXRewrite(try M.parse(M.bytes(proto) + opaque))
        try rewrite.replace(weight: "W", with: Self.dequantization())
        let (_, bytes) = try M.written(rewrite)
        let result = try OnnxSubset_ModelProto(serializedBytes: bytes)
        #expect(Array(result.unknownFields.data) == opaque)
        #expect(Array(result.graph.node[2].unknownFields.data) == ProtoWire.lengthDelimitedField(10, Array("cfg".utf8)))
        #expect(result.metadataProps == [metadata])
    }

    @Test func matMulsAreReplacedByMatMulNBits() throws {
        let quantizer = try MatMulNBitsQuantizer(bits: 4, blockSize: 16, isSymmetric: false)
        let model = try M.parse(M.matMul)
        let quantized = try model.withBytes(of: model.weights[0]) { try quantizer.quantize($0, type: .float32, k: 4, n: 3) }
        let form = try ONNXMatMulNBits(quantized, bits: 4, blockSize: 16, weight: "W", scaleType: .float32)
        var rewrite = ONNXRewrite(model)
        try rewrite.replaceMatMuls(reading: "W", with: form)
        let result = try Self.reparsed(rewrite)
        let node = result.graph.node[0]
        #expect(node.opType == "MatMulNBits" && node.domain == "com.microsoft" && node.output == ["h"])
        #expect(node.input == ["x", "W_Q4", "W_scales", "W_zero_points"])
        #expect(node.attribute.map(\.name) == ["K", "N", "bits", "block_size"] && node.attribute.map(\.i) == [4, 3, 4, 16])
        #expect(result.opsetImport.contains { $0.domain == "com.microsoft" && $0.version == 1 })
        #expect(result.graph.initializer.map(\.name) == ["bias", "W_Q4", "W_scales", "W_zero_points"])
        #expect(result.graph.initializer[1].dims == [3, 1, 8])
    }

    @Test func matMulNBitsIsRefusedWhenAnotherOpReadsTheWeight() throws {
        var proto = M.matMul
        proto.graph.node.append(M.node("Gather", ["W", "i"], ["g"]))
        let model = try M.parse(proto)
        let quantized = try model.withBytes(of: model.weights[0]) {
            try MatMulNBitsQuantizer(bits: 8, blockSize: 16, isSymmetric: true).quantize($0, type: .float32, k: 4, n: 3)
        }
        var rewrite = ONNXRewrite(model)
        #expect {
            try rewrite.replaceMatMuls(reading: "W", with: ONNXMatMulNBits(quantized, bits: 8, blockSize: 16, weight: "W", scaleType: .float32))
        } throws: { error in
            if case ONNXError.notReplaceable("W", _) = error { return true }
            return false
        }
    }

    @Test func anUploadWithExternalDataIsWrittenAsAZipWithPageAlignedData() throws {
        let upload = ZipTestBytes.archive([.init(name: "net.onnx", data: ONNXUploadTests.externalModel),
                                           .init(name: "weights.bin", data: ONNXUploadTests.weightFile)])
        var big = M.weight("E", dims: [32, 16])
        big.name = "E"
        var rewrite = ONNXRewrite(try M.parse(upload))
        try rewrite.replace(weight: "W", with: ONNXDequantization(
            initializers: [ONNXTensor(name: "W_q", dataType: .int8, dims: [4, 3], bytes: [UInt8](repeating: 1, count: 12)),
                           ONNXTensor(name: "W_s", dataType: .float, dims: [], bytes: M.floats([0.5])),
                           ONNXTensor(name: "W_unused", dataType: .float, dims: [32, 16], bytes: [UInt8](big.rawData))],
            nodes: [ONNXNode(opType: "DequantizeLinear", inputs: ["W_q", "W_s"], outputs: ["W"])]))
        let (kind, bytes) = try M.written(rewrite)
        #expect(kind == .zip)
        let written = try M.parse(bytes)
        #expect(written.usesExternalData && written.fileName == "net.onnx")
        let proto = written.proto
        let moved = try #require(proto.graph.initializer.first { $0.name == "W_unused" })
        #expect(moved.dataLocation == .external && moved.rawData.isEmpty)
        #expect(moved.externalData.map(\.key) == ["location", "offset", "length"])
        #expect(moved.externalData[0].value == "net.onnx.data" && Int(moved.externalData[1].value)! % 4096 == 0)
        #expect(proto.graph.initializer.first { $0.name == "W_q" }?.rawData.count == 12)
        let reread = try #require(written.weights.first { $0.name == "W_unused" })
        #expect(written.withBytes(of: reread) { Array($0) } == [UInt8](big.rawData))
    }
}
