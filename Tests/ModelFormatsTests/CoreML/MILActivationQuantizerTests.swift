import Execution
import Foundation
import QuantCore
import Testing
@testable import ModelFormats

/// coremltools' three activation passes on small blocks built by hand; the oracle test
/// (Tests/oracle/test_coreml_activation_quantization.py) holds whole programs to coremltools.
@Suite struct MILActivationQuantizerTests {
    typealias Operation = CoreML_Specification_MILSpec_Operation

    private static let vector = MIL.tensorType(.float32, [1, 4])

    private static func op(_ type: String, _ output: String, _ inputs: [String: String], weight: Bool = false) -> Operation {
        .with {
            $0.type = type
            $0.attributes = ["name": MIL.string(output)]
            var arguments = inputs.mapValues { MIL.named($0) }
            if weight {
                arguments["weight"] = MIL.constant(.with {
                    $0.type = MIL.tensorType(.float32, [4, 4])
                    $0.immediateValue = .with { $0.tensor = .with { $0.floats = .with { $0.values = (0..<16).map { Float($0 % 5) / 10 - 0.2 } } } }
                })
            }
            $0.inputs = arguments
            $0.outputs = [MIL.output(output, vector)]
        }
    }

    /// x → linear1 → relu → {linear2, linear3} → add → y
    private static func branching() -> CoreML_Specification_MILSpec_Block {
        .with {
            $0.operations = [
                op("linear", "linear1", ["x": "x"], weight: true),
                op("relu", "relu", ["x": "linear1"]),
                op("linear", "linear2", ["x": "relu"], weight: true),
                op("linear", "linear3", ["x": "relu"], weight: true),
                op("add", "y", ["x": "linear2", "y": "linear3"]),
            ]
            $0.outputs = ["y"]
        }
    }

    private static let ranges: [String: TensorRange] = [
        "x": .init(min: -2, max: 3), "linear1": .init(min: -1, max: 1.5), "relu": .init(min: 0, max: 1.5),
        "linear2": .init(min: -0.7, max: 0.9), "linear3": .init(min: -0.4, max: 0.8), "y": .init(min: -1, max: 1.6),
    ]

    private func quantized(_ block: CoreML_Specification_MILSpec_Block, _ config: ActivationQuantizationConfig,
                           ranges: [String: TensorRange] = ranges) -> MILActivationQuantizer {
        var quantizer = MILActivationQuantizer(block: block, inputs: [MIL.output("x", Self.vector)], config: config, ranges: ranges)
        quantizer.run()
        return quantizer
    }

    private func reads(_ quantizer: MILActivationQuantizer, _ op: String, _ parameter: String = "x") -> String? {
        guard let found = quantizer.operations.first(where: { $0.outputs.first?.name == op }),
              case .name(let name)? = found.inputs[parameter]?.arguments.first?.binding else { return nil }
        return name
    }

    private func producer(_ quantizer: MILActivationQuantizer, _ value: String) -> Operation? {
        quantizer.operations.first { $0.outputs.first?.name == value }
    }

    @Test func int8SymmetricPairsHaveNoZeroPointAndSuffixPairsNeverCancelThem() {
        let q = quantized(Self.branching(), .init(global: .init(dtype: .int8, mode: .linearSymmetric)))
        // Prefix pairs before linear1, linear2, linear3 and both inputs of add; a suffix pair
        // after relu (it has two readers, so no single quantize follows it); none after linear2
        // or linear3 (their one reader is already a quantize), none after add (the output).
        #expect(q.operations.count(where: { $0.type == "quantize" }) == 6)
        let linear2Input = reads(q, "linear2")!
        let dequantize = producer(q, linear2Input)!
        #expect(dequantize.type == "dequantize" && dequantize.inputs["zero_point"] == nil)
        // Prefix dequantize → quantize of the suffix pair's output: zero point absent vs 0, kept.
        let quantize = producer(q, reads(q, linear2Input, "input")!)!
        let suffix = producer(q, reads(q, quantize.outputs[0].name, "input")!)!
        #expect(suffix.type == "dequantize" && suffix.inputs["zero_point"] != nil)
        #expect(q.summary.tensors.map(\.name).sorted() == ["linear2", "linear3", "relu", "x"])
        #expect(q.summary.quantizedOps == ["linear1", "linear2", "linear3", "y"])
    }

    @Test func uint8PairsWithEqualParametersCollapseIntoTheSuffixPair() {
        let q = quantized(Self.branching(), .init(global: .init(dtype: .uint8, mode: .linear)))
        // relu → quantize → {dequantize → linear2, dequantize → linear3}: the prefix quantizes
        // cancelled against the suffix dequantize, which went with them.
        let linear2Input = reads(q, "linear2")!
        let dequantize = producer(q, linear2Input)!
        #expect(dequantize.type == "dequantize")
        let quantize = reads(q, linear2Input, "input")!
        #expect(quantize == reads(q, reads(q, "linear3")!, "input"))
        #expect(producer(q, quantize)?.type == "quantize" && reads(q, quantize, "input") == "relu")
        #expect(producer(q, "relu_post_dequantize") == nil)
        #expect(q.operations.count(where: { $0.type == "quantize" }) == 4)
        // uint8 linear: scale float32 (the tensor's own type), zero point stored as uint8.
        let parameters = ActivationQuantizationParameters.coreML(min: 0, max: 1.5, .init(dtype: .uint8, mode: .linear))
        #expect(dequantize.inputs["scale"]?.arguments.first?.value.immediateValue.tensor.floats.values == [parameters.scale])
        #expect(dequantize.inputs["zero_point"]?.arguments.first?.value.type.tensorType.dataType == .uint8)
    }

    @Test func aNullOpConfigLeavesThatOpFloatAndAConstInputIsNotQuantized() {
        var config = ActivationQuantizationConfig(global: .init())
        config.opTypeConfigs["add"] = .some(nil)
        config.opNameConfigs["linear3"] = .some(nil)
        let q = quantized(Self.branching(), config)
        // add keeps float inputs, but linear2's pattern still ends in a pair (its reader is no
        // quantize); linear3 gets no prefix pair of its own and so no suffix either.
        #expect(reads(q, "y") == "linear2_post_dequantize")
        #expect(reads(q, "y", "y") == "linear3")
        #expect(reads(q, "linear3") == "relu_post_dequantize")
        var block = Self.branching()
        block.operations[0].inputs["x"] = MIL.constant(.with { $0.type = Self.vector; $0.immediateValue = .with { $0.tensor = .with { $0.floats = .with { $0.values = [1, 2, 3, 4] } } } })
        let constant = quantized(block, .init(global: .init()))
        #expect(producer(constant, "linear1")?.inputs["x"]?.arguments.first?.value.immediateValue.tensor.floats.values == [1, 2, 3, 4])
    }

    @Test func aValueWithoutARangeStaysFloat() {
        var ranges = Self.ranges
        ranges["relu"] = nil
        let q = quantized(Self.branching(), .init(global: .init()), ranges: ranges)
        #expect(reads(q, "linear2") == "relu" && reads(q, "linear3") == "relu")
    }

    @Test func concatInputsAndOutputShareOneRangeTransitivelyWithoutTheModelOutput() {
        let block = CoreML_Specification_MILSpec_Block.with {
            $0.operations = [
                .with { $0.type = "concat"; $0.inputs = ["values": .with { $0.arguments = [.with { $0.name = "a" }, .with { $0.name = "b" }] }]; $0.outputs = [MIL.output("ab", Self.vector)] },
                .with { $0.type = "concat"; $0.inputs = ["values": .with { $0.arguments = [.with { $0.name = "b" }, .with { $0.name = "c" }] }]; $0.outputs = [MIL.output("bc", Self.vector)] },
                .with { $0.type = "concat"; $0.inputs = ["values": .with { $0.arguments = [.with { $0.name = "d" }, .with { $0.name = "out" }] }]; $0.outputs = [MIL.output("do", Self.vector)] },
            ]
        }
        let shared = MILActivationQuantizer.sharingConcatRanges(
            ["a": .init(min: -1, max: 1), "b": .init(min: 0, max: 2), "c": .init(min: -3, max: 0), "ab": .init(min: -1, max: 2),
             "d": .init(min: 0, max: 1), "out": .init(min: -9, max: 9)],
            operations: block.operations, outputs: ["out"])
        for name in ["a", "b", "c", "ab"] { #expect(shared[name] == TensorRange(min: -3, max: 2), "\(name)") }
        #expect(shared["bc"] == nil)
        #expect(shared["d"] == TensorRange(min: 0, max: 1))
        #expect(shared["out"] == TensorRange(min: -9, max: 9))
    }

    @Test func theQuantizedProgramRunsAsFakeQuantization() throws {
        let model = try program()
        var quantized = model
        _ = try quantized.quantizeActivations(.init(global: .init(dtype: .int8, mode: .linearSymmetric)),
                                              ranges: ["x": .init(min: -2, max: 2)])
        let blob: MILConstant.Blob = { fileName, offset throws(MLProgramError) in throw .missingBlob(fileName: fileName, offset: offset) }
        let executor = try Executor(try quantized.executionGraph(blob: blob), threads: 1)
        let x: [Float] = [0.013, -1.999, 0.5, 3]
        let y = try executor.run(["x": Tensor(shape: [1, 4], floats: x)])["y"]!.floats!
        // Both inputs of the add quantized with scale 4/254 (float16-rounded), saturating at the
        // int8 limits (the symmetric range drops only the code -128), then relu.
        let scale = ActivationQuantizationParameters.coreML(min: -2, max: 2, .init()).scale
        let expected = x.map { max(0, 2 * min(max(($0 / scale).rounded(.toNearestOrEven), -128), 127) * scale) }
        #expect(y == expected)
        // Refused below iOS17, where quantize and dequantize do not exist.
        var old = try program(opset: "CoreML6")
        #expect(throws: MLProgramError.activationQuantizationNeedsIOS17(.iOS16)) {
            _ = try old.quantizeActivations(.init(global: .init()), ranges: [:])
        }
    }

    /// x → add(x, x) → relu → y, float32, in a serialized model of `opset`.
    private func program(opset: String = "CoreML7") throws -> MLProgramModel {
        let pool = Self.op("add", "pool", ["x": "x", "y": "x"])
        let model = CoreML_Specification_Model.with {
            $0.specificationVersion = 8
            $0.mlProgram = .with {
                $0.version = 1
                $0.functions = ["main": .with {
                    $0.inputs = [MIL.output("x", Self.vector)]
                    $0.opset = opset
                    $0.blockSpecializations = [opset: .with {
                        $0.outputs = ["y"]
                        $0.operations = [pool, Self.op("relu", "y", ["x": "pool"])]
                    }]
                }]
            }
        }
        let bytes: [UInt8] = try model.serializedBytes()
        return try bytes.withUnsafeBytes { try MLProgramModel(serialized: $0) }
    }
}
