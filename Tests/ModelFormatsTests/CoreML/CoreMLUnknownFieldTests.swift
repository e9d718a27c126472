import Foundation
import SwiftProtobuf
import Testing
@testable import ModelFormats

/// The protos model only part of the Core ML format; the rest must come back out untouched.
@Suite struct CoreMLUnknownFieldTests {
    /// A length-delimited field with a number no Core ML message uses, then a varint one.
    static let opaqueFields: [UInt8] =
        ProtoWire.lengthDelimitedField(4242, Array("not in our subset".utf8)) + ProtoWire.varintField(4243, 300)

    static var deterministic: BinaryEncodingOptions {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return options
    }

    @Test func modelLevelFieldsSurviveParseAndSerialize() throws {
        let known: [UInt8] = try CoreMLProgramRoundTripTests.convModel.serializedBytes(options: Self.deterministic)
        let input = known + Self.opaqueFields

        let parsed = try CoreML_Specification_Model(serializedBytes: input)
        #expect(Array(parsed.unknownFields.data) == Self.opaqueFields)
        #expect(try parsed.serializedBytes(options: Self.deterministic) == input)
    }

    @Test func operationLevelFieldsSurviveInsideTheProgram() throws {
        var model = CoreMLProgramRoundTripTests.convModel
        let function = try #require(model.mlProgram.functions["main"])
        var block = try #require(function.blockSpecializations["CoreML7"])
        let conv: [UInt8] = try block.operations[1].serializedBytes(options: Self.deterministic)
        block.operations[1] = try CoreML_Specification_MILSpec_Operation(serializedBytes: conv + Self.opaqueFields)
        model.mlProgram.functions["main"]?.blockSpecializations["CoreML7"] = block
        let input: [UInt8] = try model.serializedBytes(options: Self.deterministic)

        let parsed = try CoreML_Specification_Model(serializedBytes: input)
        let op = try #require(parsed.mlProgram.functions["main"]?.blockSpecializations["CoreML7"]?.operations[1])
        #expect(Array(op.unknownFields.data) == Self.opaqueFields)
        #expect(op.type == "conv")
        #expect(try parsed.serializedBytes(options: Self.deterministic) == input)
    }

    /// Other model kinds (here a neuralNetwork, field 500 of the spec's Model.Type oneof) are not
    /// modelled: they must pass through rather than be read as an empty ML Program.
    @Test func otherModelKindsPassThrough() throws {
        let input = ProtoWire.varintField(1, 4) + ProtoWire.lengthDelimitedField(500, ProtoWire.varintField(1, 1))

        let parsed = try CoreML_Specification_Model(serializedBytes: input)
        #expect(parsed.specificationVersion == 4)
        #expect(parsed.type == nil)
        #expect(try parsed.serializedBytes() == input)
    }
}
