import Foundation
import SwiftProtobuf
import Testing
@testable import ModelFormats

@Suite struct CoreMLProgramRoundTripTests {
    /// A one-function program: a const conv weight stored in the weights blob, and the conv using it.
    static var convModel: CoreML_Specification_Model {
        let weightType = MIL.tensorType(.float16, [4, 3, 3, 3])
        let weight = CoreML_Specification_MILSpec_Operation.with {
            $0.type = "const"
            $0.outputs = [MIL.output("conv_weight", weightType)]
            $0.attributes = [
                "name": MIL.string("conv_weight"),
                "val": .with {
                    $0.type = weightType
                    $0.blobFileValue = .with {
                        $0.fileName = "@model_path/weights/weight.bin"
                        $0.offset = 64
                    }
                },
            ]
        }
        let conv = CoreML_Specification_MILSpec_Operation.with {
            $0.type = "conv"
            $0.inputs = [
                "x": MIL.named("x"),
                "weight": MIL.named("conv_weight"),
                "strides": MIL.constant(MIL.ints([1, 1])),
                "pad_type": MIL.constant(MIL.string("valid")),
            ]
            $0.outputs = [MIL.output("y", MIL.tensorType(.float16, [1, 4, 6, 6]))]
        }
        let main = CoreML_Specification_MILSpec_Function.with {
            $0.inputs = [MIL.output("x", MIL.tensorType(.float16, [1, 3, 8, 8]))]
            $0.opset = "CoreML7"
            $0.blockSpecializations = ["CoreML7": .with {
                $0.outputs = ["y"]
                $0.operations = [weight, conv]
            }]
        }
        return .with {
            $0.specificationVersion = 8
            $0.description_p = .with {
                $0.input = [.with {
                    $0.name = "x"
                    $0.type = .with { $0.multiArrayType = .with { $0.shape = [1, 3, 8, 8]; $0.dataType = .float16 } }
                }]
                $0.metadata = .with { $0.userDefined = ["com.github.apple.coremltools.source": "quantd"] }
            }
            $0.mlProgram = .with {
                $0.version = 1
                $0.functions = ["main": main]
            }
        }
    }

    @Test func serializedProgramParsesBackEqual() throws {
        let model = Self.convModel
        let bytes: [UInt8] = try model.serializedBytes()
        let parsed = try CoreML_Specification_Model(serializedBytes: bytes)
        #expect(parsed == model)

        let block = try #require(parsed.mlProgram.functions["main"]?.blockSpecializations["CoreML7"])
        let const = try #require(block.operations.first)
        let blob = try #require(const.attributes["val"]?.blobFileValue)
        #expect(blob.fileName == "@model_path/weights/weight.bin")
        #expect(blob.offset == 64)
        let conv = try #require(block.operations.last)
        #expect(conv.inputs["weight"]?.arguments.first?.name == "conv_weight")
        #expect(conv.inputs["strides"]?.arguments.first?.value.immediateValue.tensor.ints.values == [1, 1])
    }

    @Test func deterministicSerializationIsStableAcrossParses() throws {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8] = try Self.convModel.serializedBytes(options: options)
        let again: [UInt8] = try CoreML_Specification_Model(serializedBytes: bytes).serializedBytes(options: options)
        #expect(again == bytes)
    }
}
