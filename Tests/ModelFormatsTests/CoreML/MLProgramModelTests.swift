import Foundation
import SwiftProtobuf
import Testing
@testable import ModelFormats

private let sourceFile = "@model_path/weights/weight.bin"
/// The rewrite is told another name, so a reference it forgot to move would show.
private let rewrittenFile = "@model_path/weights/rewritten.bin"

/// A linear layer as coremltools writes it: fp16 weight and bias consts in the weight file, an
/// inline int32 const, and the linear op reading them.
private struct LinearProgram {
    var opset = "CoreML6"
    var specificationVersion: Int32 = 7
    var weightShape = [4, 8]
    var extraOperations: [CoreML_Specification_MILSpec_Operation] = []

    var weightBytes: [UInt8] { (0..<weightShape.reduce(2, *)).map { UInt8(truncatingIfNeeded: $0 &* 37) } }
    var biasBytes: [UInt8] { (0..<weightShape[0] * 2).map { UInt8(0xB0 + $0) } }

    /// The weight file and the offsets of the weight's and the bias's blobs.
    var weightFile: (bytes: [UInt8], weight: UInt64, bias: UInt64) {
        var writer = MILBlobStorageWriter()
        let weight = weightBytes.withUnsafeBytes { writer.append(.float16, data: $0) }
        let bias = biasBytes.withUnsafeBytes { writer.append(.float16, data: $0) }
        return (writer.bytes, weight, bias)
    }

    static func const(_ name: String, output: String, _ type: CoreML_Specification_MILSpec_ValueType,
                      offset: UInt64) -> CoreML_Specification_MILSpec_Operation {
        .with {
            $0.type = "const"
            $0.outputs = [MIL.output(output, type)]
            $0.attributes = [
                "name": MIL.string(name),
                "val": .with {
                    $0.type = type
                    $0.blobFileValue = .with {
                        $0.fileName = sourceFile
                        $0.offset = offset
                    }
                },
            ]
        }
    }

    var operations: [CoreML_Specification_MILSpec_Operation] {
        let file = weightFile
        let channels = UInt64(weightShape[0])
        let axes = CoreML_Specification_MILSpec_Operation.with {
            $0.type = "const"
            $0.outputs = [MIL.output("axes", MIL.tensorType(.int32, [1]))]
            $0.attributes = ["name": MIL.string("axes"), "val": MIL.ints([1])]
        }
        let linear = CoreML_Specification_MILSpec_Operation.with {
            $0.type = "linear"
            $0.inputs = ["x": MIL.named("x"), "weight": MIL.named("w"), "bias": MIL.named("b")]
            $0.outputs = [MIL.output("y", MIL.tensorType(.float16, [1, channels]))]
        }
        return [
            Self.const("linear_0_weight_to_fp16", output: "w", MIL.tensorType(.float16, weightShape.map(UInt64.init)), offset: file.weight),
            Self.const("linear_0_bias_to_fp16", output: "b", MIL.tensorType(.float16, [channels]), offset: file.bias),
            axes,
            linear,
        ] + extraOperations
    }

    var model: CoreML_Specification_Model {
        let main = CoreML_Specification_MILSpec_Function.with {
            $0.inputs = [MIL.output("x", MIL.tensorType(.float16, [1, UInt64(weightShape[1])]))]
            $0.opset = opset
            $0.blockSpecializations = [opset: .with {
                $0.outputs = ["y"]
                $0.operations = operations
            }]
        }
        return .with {
            $0.specificationVersion = specificationVersion
            $0.mlProgram = .with {
                $0.version = 1
                $0.functions = ["main": main]
            }
        }
    }

    func serialized() throws -> [UInt8] {
        try model.serializedBytes()
    }

    func parsed() throws -> MLProgramModel {
        try serialized().withUnsafeBytes { try MLProgramModel(serialized: $0) }
    }
}

private func parse(_ bytes: [UInt8]) throws -> MLProgramModel {
    try bytes.withUnsafeBytes { try MLProgramModel(serialized: $0) }
}

/// Rewrites `model` with blobs served from `weightFile`, as the service serves them from a package.
private func rewrite(_ model: inout MLProgramModel, _ replacements: [String: ConstexprOp],
                     weightFile: [UInt8]) throws -> [UInt8] {
    try rewrite(&model, chains: replacements.mapValues { [$0] }, weightFile: weightFile)
}

/// `rewrite` with a chain of ops per weight.
private func rewrite(_ model: inout MLProgramModel, chains replacements: [String: [ConstexprOp]],
                     weightFile: [UInt8]) throws -> [UInt8] {
    let storage = try weightFile.withUnsafeBytes { try MILBlobStorage(parsing: $0) }
    return try weightFile.withUnsafeBytes { raw in
        try model.rewrite(replacing: replacements, weightFileName: rewrittenFile) { fileName, offset throws(MLProgramError) in
            guard fileName == sourceFile, let blob = storage.blob(atMetadataOffset: offset) else {
                throw .missingBlob(fileName: fileName, offset: offset)
            }
            return (blob, UnsafeRawBufferPointer(rebasing: raw[blob.dataRange]))
        }.bytes
    }
}

/// The rewritten program's main block, read back from the serialized model.
private func mainBlock(_ model: MLProgramModel, opset: String) throws -> CoreML_Specification_MILSpec_Block {
    let specification = try CoreML_Specification_Model(serializedBytes: model.serialized())
    return try #require(specification.mlProgram.functions["main"]?.blockSpecializations[opset])
}

private func blobBytes(_ value: CoreML_Specification_MILSpec_Value?, in file: [UInt8]) throws -> (MILBlob, [UInt8]) {
    let reference = try #require(value?.blobFileValue)
    #expect(reference.fileName == rewrittenFile)
    let storage = try file.withUnsafeBytes { try MILBlobStorage(parsing: $0) }
    let blob = try #require(storage.blob(atMetadataOffset: reference.offset))
    return (blob, Array(file[blob.dataRange]))
}

@Suite struct MLProgramModelTests {
    @Test func listsBlobWeightsWithTheirConsumers() throws {
        let program = LinearProgram()
        let model = try program.parsed()
        #expect(model.specificationVersion == 7)
        #expect(model.opset == .iOS16)
        let file = program.weightFile
        // The int32 const is inline and not a float: not a weight.
        #expect(model.weights == [
            MLProgramWeight(name: "linear_0_weight_to_fp16", outputName: "w", dataType: .float16, shape: [4, 8],
                            fileName: sourceFile, blobOffset: file.weight, consumerTypes: ["linear"], outputAxis: 0, convolutionGroups: 1,
                            feedsConstexpr: false),
            MLProgramWeight(name: "linear_0_bias_to_fp16", outputName: "b", dataType: .float16, shape: [4],
                            fileName: sourceFile, blobOffset: file.bias, consumerTypes: ["linear"], outputAxis: 0, convolutionGroups: 1,
                            feedsConstexpr: false),
        ])
    }

    @Test func marksWeightsFeedingConstexprOpsAndDisagreeingConsumers() throws {
        var program = LinearProgram()
        let matmul = CoreML_Specification_MILSpec_Operation.with {
            $0.type = "matmul"
            $0.inputs = ["x": MIL.named("x"), "y": MIL.named("w")]
            $0.outputs = [MIL.output("z", MIL.tensorType(.float16, [1, 8]))]
        }
        let lut = LinearProgram.const("lut", output: "lut", MIL.tensorType(.float32, [16]), offset: 4096)
        let dense = CoreML_Specification_MILSpec_Operation.with {
            $0.type = "constexpr_lut_to_dense"
            $0.inputs = ["lut": MIL.named("lut")]
            $0.outputs = [MIL.output("dense", MIL.tensorType(.float16, [4, 8]))]
        }
        program.extraOperations = [matmul, lut, dense]
        let weights = try program.parsed().weights
        #expect(weights.map(\.name) == ["linear_0_weight_to_fp16", "linear_0_bias_to_fp16", "lut"])
        // linear wants axis 0, matmul's y (untransposed) axis 1.
        #expect(weights[0].consumerTypes == ["linear", "matmul"])
        #expect(weights[0].outputAxis == nil)
        #expect(!weights[0].feedsConstexpr)
        #expect(weights[2].dataType == .float32 && weights[2].shape == [16])
        #expect(weights[2].consumerTypes == ["constexpr_lut_to_dense"])
        #expect(weights[2].feedsConstexpr)
    }

    @Test func iOS16RewriteWritesParametersAsAttributes() throws {
        let program = LinearProgram()
        var model = try program.parsed()
        let codes = (0..<32).map { UInt8($0) }
        let zeroPoints: [UInt8] = [1, 2, 3, 4]
        let scales: [UInt8] = [0x00, 0x3C, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44]  // 1, 2, 3, 4 in float16
        let replacement = ConstexprOp(type: "constexpr_affine_dequantize", parameters: [
            "quantized_data": MILTensor(.int8, shape: [4, 8], storage: .blob(codes)),
            "zero_point": MILTensor(.int8, shape: [4], storage: .blob(zeroPoints)),
            "scale": MILTensor(.float16, shape: [4], storage: .blob(scales)),
            "axis": MILTensor(.int32, shape: [], storage: .int32([0])),
        ])
        let file = try rewrite(&model, ["w": replacement], weightFile: program.weightFile.bytes)

        let before = program.operations
        let after = try mainBlock(model, opset: "CoreML6").operations
        try #require(after.count == 4)
        let op = after[0]
        #expect(op.type == "constexpr_affine_dequantize")
        #expect(op.outputs == before[0].outputs)
        #expect(op.inputs.isEmpty)
        #expect(Set(op.attributes.keys) == ["name", "quantized_data", "zero_point", "scale", "axis"])
        #expect(op.attributes["name"] == before[0].attributes["name"])
        #expect(op.attributes["quantized_data"]?.type == MIL.tensorType(.int8, [4, 8]))
        #expect(try blobBytes(op.attributes["quantized_data"], in: file).1 == codes)
        #expect(op.attributes["zero_point"]?.type == MIL.tensorType(.int8, [4]))
        #expect(try blobBytes(op.attributes["zero_point"], in: file).1 == zeroPoints)
        #expect(op.attributes["scale"]?.type == MIL.tensorType(.float16, [4]))
        #expect(try blobBytes(op.attributes["scale"], in: file).1 == scales)
        #expect(op.attributes["axis"]?.type == MIL.tensorType(.int32, []))
        #expect(op.attributes["axis"]?.immediateValue.tensor.ints.values == [0])

        // The bias is copied byte for byte and its reference follows it; the old weight is gone.
        let (bias, biasData) = try blobBytes(after[1].attributes["val"], in: file)
        #expect(bias.dataType == .float16)
        #expect(biasData == program.biasBytes)
        #expect(bias.metadataOffset != program.weightFile.bias)
        #expect(try file.withUnsafeBytes { try MILBlobStorage(parsing: $0) }.blobs.count == 4)
        #expect(after[2] == before[2])
        #expect(after[3] == before[3])
        #expect(model.weights.map(\.outputName) == ["b"])
    }

    @Test func iOS18RewriteWritesParametersAsInputs() throws {
        // 15 elements, so sub-byte blobs end in a part-used byte.
        let program = LinearProgram(opset: "CoreML8", specificationVersion: 9, weightShape: [3, 5])
        var model = try program.parsed()
        #expect(model.opset == .iOS18)
        let data: [UInt8] = [0x21, 0x43, 0x65, 0x87, 0xA9, 0xCB, 0xED, 0x0F]
        let offsets: [UInt8] = [0x21, 0x03]
        let scales: [UInt8] = [0x00, 0x3C, 0x00, 0x40, 0x00, 0x42]
        let replacement = ConstexprOp(type: "constexpr_blockwise_shift_scale", parameters: [
            "data": MILTensor(.int4, shape: [3, 5], storage: .blob(data)),
            "offset": MILTensor(.int4, shape: [3, 1], storage: .blob(offsets)),
            "scale": MILTensor(.float16, shape: [3, 1], storage: .blob(scales)),
        ])
        let file = try rewrite(&model, ["w": replacement], weightFile: program.weightFile.bytes)

        let before = program.operations
        let after = try mainBlock(model, opset: "CoreML8").operations
        let op = after[0]
        #expect(op.type == "constexpr_blockwise_shift_scale")
        #expect(op.outputs == before[0].outputs)
        #expect(Set(op.attributes.keys) == ["name"])
        #expect(Set(op.inputs.keys) == ["data", "offset", "scale"])
        func input(_ name: String) throws -> CoreML_Specification_MILSpec_Value {
            let arguments = try #require(op.inputs[name]?.arguments)
            try #require(arguments.count == 1)
            return arguments[0].value
        }
        let (dataBlob, dataBytes) = try blobBytes(input("data"), in: file)
        #expect(try input("data").type == MIL.tensorType(.int4, [3, 5]))
        #expect(dataBlob.dataType == .int4 && dataBlob.paddingBits == 4 && dataBlob.elementCount == 15)
        #expect(dataBytes == data)
        let (offsetBlob, offsetBytes) = try blobBytes(input("offset"), in: file)
        #expect(offsetBlob.dataType == .int4 && offsetBlob.paddingBits == 4)
        #expect(offsetBytes == offsets)
        #expect(try blobBytes(input("scale"), in: file).1 == scales)
        #expect(try blobBytes(after[1].attributes["val"], in: file).1 == program.biasBytes)
        #expect(try file.withUnsafeBytes { try MILBlobStorage(parsing: $0) }.blobs.count == 4)
    }

    @Test func aChainReplacesTheConstWithOpsBoundByName() throws {
        let program = LinearProgram(opset: "CoreML8", specificationVersion: 9, weightShape: [2, 8])
        var model = try program.parsed()
        let mask: [UInt8] = [0xFF, 0x0F]
        let chain = [
            ConstexprOp(type: "constexpr_lut_to_sparse", parameters: [
                "indices_mask": MILTensor(.uint1, shape: [2, 8], storage: .blob(mask)),
                "indices_nonzero_data": MILTensor(.uint4, shape: [12], storage: .blob([0x10, 0x32, 0x54, 0x76, 0x98, 0xBA])),
                "lut": MILTensor(.float16, shape: [1, 1, 16, 1], storage: .blob([UInt8](repeating: 0x3C, count: 32))),
            ], outputs: [.init(.uint1, shape: [2, 8]), .init(.float16, shape: [12])]),
            ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [:],
                        references: ["mask": .init(op: 0, output: 0), "nonzero_data": .init(op: 0, output: 1)]),
        ]
        let file = try rewrite(&model, chains: ["w": chain], weightFile: program.weightFile.bytes)

        let before = program.operations
        let after = try mainBlock(model, opset: "CoreML8").operations
        #expect(after.count == before.count + 1)
        #expect(after[0].type == "constexpr_lut_to_sparse")
        #expect(after[0].outputs.map(\.name) == ["w_0_0", "w_0_1"])
        #expect(after[0].outputs[0].type == MIL.tensorType(.uint1, [2, 8]))
        #expect(after[0].outputs[1].type == MIL.tensorType(.float16, [12]))
        #expect(after[1].type == "constexpr_sparse_to_dense")
        #expect(after[1].outputs == before[0].outputs)
        #expect(after[1].inputs["mask"]?.arguments.map(\.name) == ["w_0_0"])
        #expect(after[1].inputs["nonzero_data"]?.arguments.map(\.name) == ["w_0_1"])
        #expect(after[2] == before[1] || after[2].type == before[1].type)
        let (maskBlob, maskBytes) = try blobBytes(after[0].inputs["indices_mask"]!.arguments[0].value, in: file)
        #expect(maskBlob.dataType == .uint1 && maskBytes == mask)
    }

    @Test func raisingTheOpsetMovesEveryBlockAndTheSpecificationVersion() throws {
        var model = try LinearProgram().parsed()
        try model.raiseOpset(to: .iOS18)
        #expect(model.opset == .iOS18)
        #expect(model.specificationVersion == 9)
        let specification = try CoreML_Specification_Model(serializedBytes: model.serialized())
        let main = try #require(specification.mlProgram.functions["main"])
        #expect(main.opset == "CoreML8")
        #expect(Array(main.blockSpecializations.keys) == ["CoreML8"])
        #expect(main.blockSpecializations["CoreML8"]?.operations == LinearProgram().operations)
        #expect(model.weights == (try LinearProgram().parsed()).weights)
    }

    @Test func aRewriteAfterRaisingWritesTheNewOpsetsForm() throws {
        let program = LinearProgram()
        var model = try program.parsed()
        try model.raiseOpset(to: .iOS18)
        let replacement = ConstexprOp(type: "constexpr_blockwise_shift_scale", parameters: [
            "data": MILTensor(.int8, shape: [4, 8], storage: .blob([UInt8](repeating: 1, count: 32))),
            "scale": MILTensor(.float16, shape: [4, 1], storage: .blob([UInt8](repeating: 0x3C, count: 8))),
        ])
        _ = try rewrite(&model, ["w": replacement], weightFile: program.weightFile.bytes)
        let op = try mainBlock(model, opset: "CoreML8").operations[0]
        #expect(Set(op.inputs.keys) == ["data", "scale"])
        #expect(Set(op.attributes.keys) == ["name"])
    }

    @Test func raisingNeverLowers() throws {
        var model = try LinearProgram(opset: "CoreML7", specificationVersion: 9).parsed()
        let before = try model.serialized()
        for opset in [MILOpset.iOS15, .iOS16, .iOS17] { try model.raiseOpset(to: opset) }
        #expect(try model.serialized() == before)
        try model.raiseOpset(to: .iOS18)
        #expect(model.opset == .iOS18 && model.specificationVersion == 9)
    }

    @Test func raisingToIOS18RefusesTheConstexprOpsItRedefined() throws {
        for type in ["constexpr_lut_to_dense", "constexpr_sparse_to_dense"] {
            var program = LinearProgram()
            program.extraOperations = [.with {
                $0.type = type
                $0.outputs = [MIL.output("dense", MIL.tensorType(.float16, [4, 8]))]
            }]
            var model = try program.parsed()
            let before = try model.serialized()
            #expect(throws: MLProgramError.redefinedOp(type, from: .iOS16, to: .iOS18)) { try model.raiseOpset(to: .iOS18) }
            #expect(try model.serialized() == before, "a refused raise changes nothing")
            // iOS17 keeps the iOS16 form.
            try model.raiseOpset(to: .iOS17)
            #expect(model.opset == .iOS17 && model.specificationVersion == 8)
        }
        // The iOS16 affine op is still part of the iOS18 opset.
        var program = LinearProgram()
        program.extraOperations = [.with { $0.type = "constexpr_affine_dequantize" }]
        var model = try program.parsed()
        try model.raiseOpset(to: .iOS18)
        #expect(model.opset == .iOS18)
    }

    @Test func sharedBlobsAreCopiedOnce() throws {
        var program = LinearProgram()
        program.extraOperations = [LinearProgram.const("bias_again", output: "b2", MIL.tensorType(.float16, [4]),
                                                       offset: program.weightFile.bias)]
        var model = try program.parsed()
        let file = try rewrite(&model, [:], weightFile: program.weightFile.bytes)
        let after = try mainBlock(model, opset: "CoreML6").operations
        #expect(try file.withUnsafeBytes { try MILBlobStorage(parsing: $0) }.blobs.count == 2)
        #expect(try blobBytes(after[0].attributes["val"], in: file).1 == program.weightBytes)
        #expect(after[1].attributes["val"]?.blobFileValue.offset == after[4].attributes["val"]?.blobFileValue.offset)
        #expect(try blobBytes(after[4].attributes["val"], in: file).1 == program.biasBytes)
    }

    @Test func unknownFieldsSurviveARewrite() throws {
        let opaque = CoreMLUnknownFieldTests.opaqueFields
        var specification = LinearProgram().model
        var block = try #require(specification.mlProgram.functions["main"]?.blockSpecializations["CoreML6"])
        let linear: [UInt8] = try block.operations[3].serializedBytes()
        block.operations[3] = try CoreML_Specification_MILSpec_Operation(serializedBytes: linear + opaque)
        specification.mlProgram.functions["main"]?.blockSpecializations["CoreML6"] = block
        let known: [UInt8] = try specification.serializedBytes()
        var model = try parse(known + opaque)

        let replacement = ConstexprOp(type: "constexpr_affine_dequantize", parameters: [
            "quantized_data": MILTensor(.int8, shape: [4, 8], storage: .blob([UInt8](repeating: 1, count: 32))),
        ])
        _ = try rewrite(&model, ["w": replacement], weightFile: LinearProgram().weightFile.bytes)
        let rewritten = try CoreML_Specification_Model(serializedBytes: model.serialized())
        #expect(Array(rewritten.unknownFields.data) == opaque)
        let op = try #require(rewritten.mlProgram.functions["main"]?.blockSpecializations["CoreML6"]?.operations[3])
        #expect(op.type == "linear")
        #expect(Array(op.unknownFields.data) == opaque)
    }

    @Test func refusesWhatIsNotAnMLProgram() throws {
        #expect { try parse([0xFF, 0xFF, 0xFF]) } throws: {
            if case .unreadable = $0 as? MLProgramError { true } else { false }
        }
        // A neuralNetwork model: field 500 of the Model.Type oneof.
        let neuralNetwork = ProtoWire.varintField(1, 4) + ProtoWire.lengthDelimitedField(500, ProtoWire.varintField(1, 1))
        #expect(throws: MLProgramError.notAnMLProgram) { try parse(neuralNetwork) }
    }

    @Test func refusesAFunctionWithoutABlockForItsOpset() throws {
        var specification = LinearProgram().model
        specification.mlProgram.functions["main"]?.opset = "CoreML7"
        #expect(throws: MLProgramError.malformed("function 'main' has no block for its opset 'CoreML7'")) {
            try parse(try specification.serializedBytes())
        }
    }

    @Test func aMissingBlobStopsTheRewrite() throws {
        let program = LinearProgram()
        var model = try program.parsed()
        // A weight file holding the weight's blob but not the bias's.
        var writer = MILBlobStorageWriter()
        program.weightBytes.withUnsafeBytes { _ = writer.append(.float16, data: $0) }
        let replacement = ConstexprOp(type: "constexpr_affine_dequantize", parameters: [
            "quantized_data": MILTensor(.int8, shape: [4, 8], storage: .blob([UInt8](repeating: 1, count: 32))),
        ])
        #expect(throws: MLProgramError.missingBlob(fileName: sourceFile, offset: program.weightFile.bias)) {
            try rewrite(&model, ["w": replacement], weightFile: writer.bytes)
        }
    }

    /// Found with FuzzMLProgramModel: a const of shape [2³¹-1, 2³¹-1, 2³¹-1] trapped when the op
    /// graph counted its elements. A shape whose size in bits does not fit an Int is now
    /// unknown, like a flexible one; one just within that stays known.
    @Test func aShapeTooLargeToExistIsUnknown() throws {
        var program = LinearProgram()
        let offset = program.weightFile.weight
        let max = UInt64(Int32.max)
        program.extraOperations = [
            LinearProgram.const("crashing", output: "c", MIL.tensorType(.float16, [max, max, max]), offset: offset),
            LinearProgram.const("too_large", output: "t", MIL.tensorType(.float16, [1 << 29, 1 << 28]), offset: offset),
            LinearProgram.const("largest", output: "l", MIL.tensorType(.float16, [1 << 28, 1 << 28]), offset: offset),
            .with {
                $0.type = "add"
                $0.inputs = ["x": MIL.named("c"), "y": MIL.named("t")]
                $0.outputs = [MIL.output("sum", MIL.tensorType(.float16, [max, max, max]))]
            },
        ]
        let model = try program.parsed()
        #expect(model.weights.map(\.name) == ["linear_0_weight_to_fp16", "linear_0_bias_to_fp16", "largest"])
        let add = try #require(model.opGraph.operations.last)
        #expect(add.type == "add")
        #expect(add.outputs.map(\.shape) == [nil])
        #expect(add.inputs.flatMap { $0.values.map(\.tensor.shape) } == [nil, nil])
    }
}
