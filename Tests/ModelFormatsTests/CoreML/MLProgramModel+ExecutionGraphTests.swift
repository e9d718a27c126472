import Execution
import Foundation
import QuantCore
import Testing
@testable import ModelFormats

private let weightFileName = "@model_path/weights/weight.bin"

/// A main function built op by op, with the inline constants coremltools writes for parameters.
private struct ProgramBuilder {
    var opset = "CoreML6"
    var inputs: [CoreML_Specification_MILSpec_NamedValueType] = []
    var operations: [CoreML_Specification_MILSpec_Operation] = []
    var outputs: [String] = []
    var description = CoreML_Specification_ModelDescription()

    mutating func op(_ type: String, _ name: String, inputs: [String: CoreML_Specification_MILSpec_Argument],
                     outputs: [(String, CoreML_Specification_MILSpec_ValueType)]) {
        operations.append(.with {
            $0.type = type
            $0.attributes = ["name": MIL.string(name)]
            $0.inputs = inputs
            $0.outputs = outputs.map { MIL.output($0.0, $0.1) }
        })
    }

    mutating func const(_ output: String, _ value: CoreML_Specification_MILSpec_Value) {
        operations.append(.with {
            $0.type = "const"
            $0.attributes = ["name": MIL.string(output), "val": value]
            $0.outputs = [MIL.output(output, value.type)]
        })
    }

    func parsed() throws -> MLProgramModel {
        let model = CoreML_Specification_Model.with {
            $0.specificationVersion = 9
            $0.description_p = description
            $0.mlProgram = .with {
                $0.version = 1
                $0.functions = ["main": .with {
                    $0.inputs = inputs
                    $0.opset = opset
                    $0.blockSpecializations = [opset: .with {
                        $0.outputs = outputs
                        $0.operations = operations
                    }]
                }]
            }
        }
        let bytes: [UInt8] = try model.serializedBytes()
        return try bytes.withUnsafeBytes { try MLProgramModel(serialized: $0) }
    }
}

private func floats(_ values: [Float], _ shape: [UInt64]) -> CoreML_Specification_MILSpec_Value {
    .with {
        $0.type = MIL.tensorType(.float32, shape)
        $0.immediateValue = .with { $0.tensor = .with { $0.floats = .with { $0.values = values } } }
    }
}

private func blobValue(_ type: CoreML_Specification_MILSpec_DataType, _ shape: [UInt64], offset: UInt64) -> CoreML_Specification_MILSpec_Value {
    .with {
        $0.type = MIL.tensorType(type, shape)
        $0.blobFileValue = .with {
            $0.fileName = weightFileName
            $0.offset = offset
        }
    }
}

/// Serves blobs from one weight file, as a package does.
private func lower(_ model: MLProgramModel, weightFile: [UInt8] = MILBlobStorageWriter().bytes) throws -> ExecutionGraph {
    let storage = try weightFile.withUnsafeBytes { try MILBlobStorage(parsing: $0) }
    return try weightFile.withUnsafeBytes { raw in
        try model.executionGraph { fileName, offset throws(MLProgramError) in
            guard fileName == weightFileName, let blob = storage.blob(atMetadataOffset: offset) else {
                throw .missingBlob(fileName: fileName, offset: offset)
            }
            return (blob, UnsafeRawBufferPointer(rebasing: raw[blob.dataRange]))
        }
    }
}

/// A float32 weight `w` of `shape` in the weight file, read by an identity op whose output the
/// program returns, rewritten into `chain` by quantd's own writer and lowered: the constant the
/// graph holds for `w`.
private func decompressed(_ chain: [ConstexprOp], shape: [Int], opset: String) throws -> ConstantTensor {
    var writer = MILBlobStorageWriter()
    let dense = [Float](repeating: 0, count: shape.reduce(1, *))
    let offset = dense.withUnsafeBytes { writer.append(.float32, data: $0) }
    var program = ProgramBuilder(opset: opset)
    let type = MIL.tensorType(.float32, shape.map(UInt64.init))
    program.const("w", blobValue(.float32, shape.map(UInt64.init), offset: offset))
    program.op("identity", "keep", inputs: ["x": MIL.named("w")], outputs: [("y", type)])
    program.outputs = ["y"]
    var model = try program.parsed()
    let original = writer.bytes
    let storage = try original.withUnsafeBytes { try MILBlobStorage(parsing: $0) }
    let rewritten = try original.withUnsafeBytes { raw in
        try model.rewrite(replacing: ["w": chain], weightFileName: weightFileName) { _, offset throws(MLProgramError) in
            let blob = storage.blob(atMetadataOffset: offset)!
            return (blob, UnsafeRawBufferPointer(rebasing: raw[blob.dataRange]))
        }.bytes
    }
    let graph = try lower(model, weightFile: rewritten)
    #expect(graph.nodes.map(\.inputs) == [["w"]])
    return try #require(graph.constants["w"])
}

private func float16Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: FloatConversion.float16Bits(v).littleEndian) { Array($0) } }
}

private func float32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

@Suite struct MLProgramExecutionGraphTests {
    @Test func convolutionPaddingAndRelu6LowerOntoTheExecutorsOperations() throws {
        var program = ProgramBuilder()
        program.inputs = [MIL.output("image", MIL.tensorType(.float32, [1, 2, 5, 5]))]
        program.const("w", floats([Float](repeating: 0.5, count: 4 * 2 * 9), [4, 2, 3, 3]))
        program.op("conv", "conv_0", inputs: [
            "x": MIL.named("image"), "weight": MIL.named("w"),
            "pad_type": MIL.constant(MIL.string("custom")), "pad": MIL.constant(MIL.ints([1, 2, 0, 1])),
            "strides": MIL.constant(MIL.ints([2, 1])), "groups": MIL.constant(MIL.ints([1])),
        ], outputs: [("c", MIL.tensorType(.float32, [1, 4, 3, 4]))])
        program.op("relu6", "act", inputs: ["x": MIL.named("c")], outputs: [("r", MIL.tensorType(.float32, [1, 4, 3, 4]))])
        program.outputs = ["r"]
        program.description.output = [.with { $0.name = "logits" }]
        let graph = try lower(try program.parsed())

        #expect(graph.inputs == [GraphInput(name: "image", elementType: .float32, shape: [1, 2, 5, 5])])
        #expect(graph.nodes[0].operation == .convolution(Convolution(strides: [2, 1], dilations: [1, 1], padding: .explicit([1, 0, 2, 1]), groups: 1)))
        #expect(graph.nodes[0].inputs == ["image", "w", nil])
        #expect(graph.constants["w"]?.shape == [4, 2, 3, 3])
        #expect(graph.nodes[1].operation == .clip)
        #expect(graph.nodes[1].inputs.compactMap { $0.flatMap { graph.constants[$0]?.elements } } == [.float32([0]), .float32([6])])
        // The program's output keeps its value; the description's name is an identity after it.
        #expect(graph.nodes[2].operation == .identity && graph.nodes[2].inputs == ["r"] && graph.outputs == ["logits"])
    }

    @Test func sliceByIndexMasksBecomeClampingBoundsAndASqueeze() throws {
        var program = ProgramBuilder()
        program.inputs = [MIL.output("x", MIL.tensorType(.float32, [2, 6, 4]))]
        program.op("slice_by_index", "pick", inputs: [
            "x": MIL.named("x"), "begin": MIL.constant(MIL.ints([0, 1, -1])), "end": MIL.constant(MIL.ints([0, 5, 0])),
            "stride": MIL.constant(MIL.ints([1, 2, 1])),
            "begin_mask": MIL.constant(.with {
                $0.type = MIL.tensorType(.bool, [3])
                $0.immediateValue = .with { $0.tensor = .with { $0.bools = .with { $0.values = [true, false, false] } } }
            }),
            "end_mask": MIL.constant(.with {
                $0.type = MIL.tensorType(.bool, [3])
                $0.immediateValue = .with { $0.tensor = .with { $0.bools = .with { $0.values = [true, false, false] } } }
            }),
            "squeeze_mask": MIL.constant(.with {
                $0.type = MIL.tensorType(.bool, [3])
                $0.immediateValue = .with { $0.tensor = .with { $0.bools = .with { $0.values = [false, false, true] } } }
            }),
        ], outputs: [("y", MIL.tensorType(.float32, [2, 2]))])
        program.outputs = ["y"]
        let graph = try lower(try program.parsed())

        let slice = graph.nodes[0]
        #expect(slice.operation == .slice)
        let operands = slice.inputs.map { $0.flatMap { graph.constants[$0]?.elements } }
        #expect(operands[1] == .int64([.min, 1, -1]))
        #expect(operands[2] == .int64([.max, 5, .max]))
        #expect(operands[4] == .int64([1, 2, 1]))
        #expect(graph.nodes[1].operation == .squeeze(axes: [2]) && graph.nodes[1].inputs == [slice.outputs[0]])
        #expect(graph.nodes[1].outputs == ["y"])
    }

    @Test func anOpTheExecutorLacksIsRefusedByNameAndType() throws {
        var program = ProgramBuilder()
        program.inputs = [MIL.output("x", MIL.tensorType(.float32, [4]))]
        program.op("non_maximum_suppression", "nms_0", inputs: ["boxes": MIL.named("x")], outputs: [("y", MIL.tensorType(.float32, [4]))])
        program.outputs = ["y"]
        #expect(throws: ExecutionError.unsupportedOperation(name: "nms_0", type: "non_maximum_suppression")) {
            try lower(try program.parsed())
        }
    }

    @Test func anAttributeValueOutsideTheExecutorIsAnUnsupportedUse() throws {
        var program = ProgramBuilder()
        program.inputs = [MIL.output("x", MIL.tensorType(.float32, [4]))]
        program.op("concat", "cat", inputs: ["values": .with { $0.arguments = [.with { $0.name = "x" }, .with { $0.name = "x" }] },
                                            "axis": MIL.constant(MIL.ints([0])), "interleave": MIL.constant(MIL.bool(true))],
                   outputs: [("y", MIL.tensorType(.float32, [8]))])
        program.outputs = ["y"]
        #expect(throws: ExecutionError.unsupportedUse(name: "cat", type: "concat", reason: "interleave true")) {
            try lower(try program.parsed())
        }
    }

    @Test func anImageInputReadsPixelsBecauseTheProgramScalesThem() throws {
        var program = ProgramBuilder()
        program.inputs = [MIL.output("image", MIL.tensorType(.float32, [1, 3, 4, 5]))]
        program.op("relu", "out", inputs: ["x": MIL.named("image")], outputs: [("y", MIL.tensorType(.float32, [1, 3, 4, 5]))])
        program.outputs = ["y"]
        program.description.input = [.with {
            $0.name = "image"
            $0.type.imageType = .with {
                $0.width = 5
                $0.height = 4
                $0.colorSpace = .bgr
            }
        }]
        let graph = try lower(try program.parsed())
        #expect(graph.inputs == [GraphInput(name: "image", elementType: .float32, shape: [1, 3, 4, 5],
                                            image: ImagePreprocessing(scale: 1, bias: [0, 0, 0], channelOrder: .bgr))])
    }

    @Test func flexibleArrayDimensionsAreUnknown() throws {
        var program = ProgramBuilder()
        program.inputs = [MIL.output("x", MIL.tensorType(.float32, [1, 8]))]
        program.op("relu", "out", inputs: ["x": MIL.named("x")], outputs: [("y", MIL.tensorType(.float32, [1, 8]))])
        program.outputs = ["y"]
        program.description.input = [.with {
            $0.name = "x"
            $0.type.multiArrayType = .with {
                $0.shape = [1, 8]
                $0.dataType = .float16
                $0.shapeRange = .with { $0.sizeRanges = [.with { $0.lowerBound = 1; $0.upperBound = 1 }, .with { $0.lowerBound = 1; $0.upperBound = -1 }] }
            }
        }]
        #expect(try lower(try program.parsed()).inputs == [GraphInput(name: "x", elementType: .float32, shape: [1, nil])])
    }

    // MARK: - Constexpr forms, as quantd writes them

    @Test func iOS16AffineDequantizePerChannel() throws {
        let codes: [UInt8] = [0, 10, 255, 7, 8, 9]
        let op = ConstexprOp(type: "constexpr_affine_dequantize", parameters: [
            "quantized_data": MILTensor(.uint8, shape: [2, 3], storage: .blob(codes)),
            "zero_point": MILTensor(.uint8, shape: [2], storage: .blob([5, 8])),
            "scale": MILTensor(.float32, shape: [2], storage: .blob(float32Bytes([0.5, -2]))),
            "axis": MILTensor(.int32, shape: [], storage: .int32([0])),
        ])
        let w = try decompressed([op], shape: [2, 3], opset: "CoreML6")
        #expect(w == ConstantTensor(shape: [2, 3], elements: .float32([-2.5, 2.5, 125, 2, 0, -2])))
    }

    @Test func iOS18BlockwiseInt4WithOffsetsPerBlock() throws {
        // Blocks of 2 along the last axis: scale and offset [2, 2].
        let codes: [UInt8] = [1, 2, 0xF, 0x8, 7, 0, 3, 4]  // int4: 1, 2, -1, -8, 7, 0, 3, 4
        let op = ConstexprOp(type: "constexpr_blockwise_shift_scale", parameters: [
            "data": MILTensor(.int4, shape: [2, 4], storage: .blob(BitPacking.pack(codes, bits: 4))),
            "offset": MILTensor(.int4, shape: [2, 2], storage: .blob(BitPacking.pack([1, 0xF, 0, 2], bits: 4))),
            "scale": MILTensor(.float16, shape: [2, 2], storage: .blob(float16Bytes([0.25, 1, 2, 0.1]))),
        ])
        let w = try decompressed([op], shape: [2, 4], opset: "CoreML8")
        let tenth = FloatConversion.float(float16Bits: FloatConversion.float16Bits(0.1))
        let expected: [Float] = [0, 0.25, 0, -7, 14, 0, (3 - 2) * tenth, (4 - 2) * tenth].map {
            FloatConversion.float(float16Bits: FloatConversion.float16Bits($0))
        }
        #expect(w == ConstantTensor(shape: [2, 4], elements: .float32(expected)))
    }

    @Test func iOS16LUTWithBytePackedIndices() throws {
        let indices: [UInt8] = [3, 0, 1, 2, 2, 1]
        let op = ConstexprOp(type: "constexpr_lut_to_dense", parameters: [
            "indices": MILTensor(.uint8, shape: [2], storage: .blob(BitPacking.pack(indices, bits: 2))),
            "lut": MILTensor(.float16, shape: [4], storage: .blob(float16Bytes([-1, 0, 0.5, 4]))),
            "shape": MILTensor(.uint32, shape: [2], storage: .uint32([3, 2])),
        ])
        let w = try decompressed([op], shape: [3, 2], opset: "CoreML6")
        #expect(w == ConstantTensor(shape: [3, 2], elements: .float32([4, -1, 0, 0.5, 0.5, 0])))
    }

    @Test func iOS18GroupedLUTWithAPerChannelScaleChain() throws {
        // Two groups of two rows, 1-bit indices; the LUT copies scaled per column ([1, 2] scale).
        let indices: [UInt8] = [0, 1, 1, 1, 0, 0, 1, 0]
        let lut: [Float] = [1, 2, 1, 2, 10, 20, 10, 20]  // [2 groups, 2 columns, 2 entries, 1]
        let chain = [
            ConstexprOp(type: "constexpr_blockwise_shift_scale", parameters: [
                "data": MILTensor(.float32, shape: [2, 2, 2, 1], storage: .blob(float32Bytes(lut))),
                "scale": MILTensor(.float32, shape: [1, 2, 1, 1], storage: .blob(float32Bytes([1, -3]))),
            ], outputs: [.init(.float32, shape: [2, 2, 2, 1])]),
            ConstexprOp(type: "constexpr_lut_to_dense",
                        parameters: ["indices": MILTensor(.uint1, shape: [4, 2], storage: .blob(BitPacking.pack(indices, bits: 1)))],
                        references: ["lut": .init(op: 0, output: 0)]),
        ]
        let w = try decompressed(chain, shape: [4, 2], opset: "CoreML8")
        #expect(w == ConstantTensor(shape: [4, 2], elements: .float32([1, -6, 2, -6, 10, -30, 20, -30])))
    }

    @Test func iOS16AndIOS18SparseMasks() throws {
        let mask: [UInt8] = [0b0100_1001, 0b1]  // elements 0, 3, 6, 8 of 9
        let values: [Float] = [1, -2, 3, 4]
        let iOS16 = ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [
            "nonzero_data": MILTensor(.float32, shape: [4], storage: .blob(float32Bytes(values))),
            "mask": MILTensor(.uint8, shape: [2], storage: .blob(mask)),
            "shape": MILTensor(.uint32, shape: [2], storage: .uint32([3, 3])),
        ])
        let iOS18 = ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [
            "nonzero_data": MILTensor(.float32, shape: [4], storage: .blob(float32Bytes(values))),
            "mask": MILTensor(.uint1, shape: [3, 3], storage: .blob(mask)),
        ])
        let expected = ConstantTensor(shape: [3, 3], elements: .float32([1, 0, 0, -2, 0, 0, 3, 0, 4]))
        #expect(try decompressed([iOS16], shape: [3, 3], opset: "CoreML6") == expected)
        #expect(try decompressed([iOS18], shape: [3, 3], opset: "CoreML8") == expected)
    }

    @Test func jointSparseLinearDequantizesEachKeptValueInItsBlock() throws {
        // Rows are blocks: row 0 scale 0.5 offset 0, row 1 scale 2 offset 1; kept 0, 2, 3, 5.
        let chain = prunedLinearChain(
            mask: [0b10_1101], codes: [4, 2, 3, 1], shape: [2, 3], scales: [0.5, 2], offsets: [0, 1])
        let w = try decompressed(chain, shape: [2, 3], opset: "CoreML8")
        #expect(w == ConstantTensor(shape: [2, 3], elements: .float32([2, 0, 1, 4, 0, 0])))
    }

    @Test func jointSparsePalettizedLooksUpOnlyKeptIndices() throws {
        let chain = [
            ConstexprOp(type: "constexpr_lut_to_sparse", parameters: [
                "indices_mask": MILTensor(.uint1, shape: [2, 3], storage: .blob([0b11_0010])),
                "indices_nonzero_data": MILTensor(.uint2, shape: [3], storage: .blob(BitPacking.pack([3, 0, 2], bits: 2))),
                "lut": MILTensor(.float32, shape: [1, 1, 4, 1], storage: .blob(float32Bytes([-1, 1, 5, 7]))),
            ], outputs: [.init(.uint1, shape: [2, 3]), .init(.float32, shape: [3])]),
            ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [:],
                        references: ["mask": .init(op: 0, output: 0), "nonzero_data": .init(op: 0, output: 1)]),
        ]
        let w = try decompressed(chain, shape: [2, 3], opset: "CoreML8")
        #expect(w == ConstantTensor(shape: [2, 3], elements: .float32([0, 7, 0, 0, -1, 5])))
    }
}

/// The chain `ConstexprEncoding.prunedLinear` writes, from hand-picked uint8 codes.
private func prunedLinearChain(mask: [UInt8], codes: [UInt8], shape: [Int], scales: [Float], offsets: [UInt8]) -> [ConstexprOp] {
        [
            ConstexprOp(type: "constexpr_sparse_blockwise_shift_scale", parameters: [
                "data_mask": MILTensor(.uint1, shape: shape, storage: .blob(mask)),
                "nonzero_data": MILTensor(.uint8, shape: [codes.count], storage: .blob(codes)),
                "scale": MILTensor(.float32, shape: [shape[0], 1], storage: .blob(float32Bytes(scales))),
                "offset": MILTensor(.uint8, shape: [shape[0], 1], storage: .blob(offsets)),
            ], outputs: [.init(.uint1, shape: shape), .init(.float32, shape: [codes.count])]),
            ConstexprOp(type: "constexpr_sparse_to_dense", parameters: [:],
                        references: ["mask": .init(op: 0, output: 0), "nonzero_data": .init(op: 0, output: 1)]),
        ]
}
