import Foundation
import SwiftProtobuf
import Testing
@testable import ModelFormats

/// Checks the proto subset against a model.mlmodel written by coremltools 9 itself
/// (Tests/oracle/fixtures/make_linear_mlprogram.py: x[1,8] → linear with a 16×8 weight → y).
@Suite struct CoreMLRealModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("oracle/fixtures")

    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    @Test func readsTheProgramCoremltoolsWrote() throws {
        let model = try CoreML_Specification_Model(serializedBytes: Self.fixture("linear_mlprogram.mlmodel"))
        #expect(model.specificationVersion == 7)
        #expect(model.description_p.input.map(\.name) == ["x"])
        #expect(model.description_p.output.first?.type.multiArrayType.shape == [1, 16])
        #expect(model.description_p.metadata.userDefined["com.github.apple.coremltools.version"] == "9.0")

        let main = try #require(model.mlProgram.functions["main"])
        #expect(main.opset == "CoreML6")
        #expect(main.inputs.first?.type.tensorType.dimensions.map(\.constant.size) == [1, 8])
        let block = try #require(main.blockSpecializations[main.opset])
        #expect(block.outputs == ["y"])

        let weight = try #require(block.operations.first { $0.outputs.first?.name == "y_weight_0_to_fp16" })
        #expect(weight.type == "const")
        let blob = try #require(weight.attributes["val"]?.blobFileValue)
        #expect(blob.fileName == "@model_path/weights/weight.bin")
        #expect(blob.offset == 64)
        #expect(weight.attributes["val"]?.type.tensorType.dataType == .float16)

        // 16×8 fp16 weight = 256 bytes after its 64-byte record header, then the bias record.
        let bias = try #require(block.operations.first { $0.outputs.first?.name == "y_bias_0_to_fp16" })
        #expect(bias.attributes["val"]?.blobFileValue.offset == 64 + 64 + 256)

        // coremltools computes in fp16, so the linear reads the cast of x, not x itself.
        let linear = try #require(block.operations.first { $0.type == "linear" })
        #expect(linear.inputs.mapValues { $0.arguments.map(\.name) } == [
            "x": ["x_to_fp16"], "weight": ["y_weight_0_to_fp16"], "bias": ["y_bias_0_to_fp16"],
        ])
        #expect(model.unknownFields.data.isEmpty)
    }

    /// protobuf-python writes map entries in hash-table order, so byte equality with the converter's
    /// own file is not expected; with keys sorted on both sides the encodings must match exactly.
    @Test func reserializesLikeProtobufPythonDeterministic() throws {
        let model = try CoreML_Specification_Model(serializedBytes: Self.fixture("linear_mlprogram.mlmodel"))
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8] = try model.serializedBytes(options: options)
        #expect(bytes == (try Self.fixture("linear_mlprogram.deterministic.mlmodel")))
        #expect(try CoreML_Specification_Model(serializedBytes: bytes) == model)
    }
}
