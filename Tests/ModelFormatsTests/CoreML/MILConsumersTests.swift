import Testing
@testable import ModelFormats

/// An op reading the values named by `inputs` (parameter → value name); constant arguments
/// go in `constants`.
private func op(_ type: String, _ inputs: [String: String],
                constants: [String: CoreML_Specification_MILSpec_Value] = [:]) -> CoreML_Specification_MILSpec_Operation {
    .with {
        $0.type = type
        $0.inputs = inputs.mapValues(MIL.named)
        for (parameter, value) in constants { $0.inputs[parameter] = MIL.constant(value) }
        $0.outputs = [MIL.output("\(type)_out", MIL.tensorType(.float16, [1]))]
    }
}

/// A const op holding a boolean flag, as coremltools writes matmul's transpose flags.
private func flag(_ name: String, _ value: Bool) -> CoreML_Specification_MILSpec_Operation {
    .with {
        $0.type = "const"
        $0.attributes = ["name": MIL.string(name), "val": MIL.bool(value)]
        $0.outputs = [MIL.output(name, MIL.tensorType(.bool, []))]
    }
}

private func consumers(_ operations: [CoreML_Specification_MILSpec_Operation]) -> MILConsumers {
    MILConsumers(block: .with { $0.operations = operations })
}

@Suite struct MILConsumersTests {
    @Test func linearAndConvWeightsHaveOutputChannelsFirst() {
        let uses = consumers([op("linear", ["x": "x", "weight": "w"]), op("conv", ["x": "x", "weight": "k"])])
        #expect(uses.outputAxis(of: "w", rank: 2) == 0)
        #expect(uses.outputAxis(of: "k", rank: 4) == 0)
        #expect(uses.uses(of: "w").map(\.parameter) == ["weight"])
    }

    @Test func convTransposeWeightsHaveOutputChannelsSecond() {
        #expect(consumers([op("conv_transpose", ["x": "x", "weight": "w"])]).outputAxis(of: "w", rank: 4) == 1)
    }

    @Test func matmulYFollowsTransposeYBoundByName() {
        let plain = consumers([flag("ty", false), op("matmul", ["x": "x", "y": "w", "transpose_y": "ty"])])
        #expect(plain.outputAxis(of: "w", rank: 3) == 2)
        let transposed = consumers([flag("ty", true), op("matmul", ["x": "x", "y": "w", "transpose_y": "ty"])])
        #expect(transposed.outputAxis(of: "w", rank: 3) == 1)
    }

    @Test func matmulYFollowsAnInlineTransposeY() {
        let plain = consumers([op("matmul", ["x": "x", "y": "w"], constants: ["transpose_y": MIL.bool(false)])])
        #expect(plain.outputAxis(of: "w", rank: 3) == 2)
        let transposed = consumers([op("matmul", ["x": "x", "y": "w"], constants: ["transpose_y": MIL.bool(true)])])
        #expect(transposed.outputAxis(of: "w", rank: 3) == 1)
        // No flag at all means not transposed.
        #expect(consumers([op("matmul", ["x": "x", "y": "w"])]).outputAxis(of: "w", rank: 2) == 1)
    }

    @Test func matmulXFollowsTransposeX() {
        // transpose_y must not be read for x: it is set here to the opposite of transpose_x.
        let plain = consumers([flag("tx", false), flag("ty", true),
                               op("matmul", ["x": "w", "y": "y", "transpose_x": "tx", "transpose_y": "ty"])])
        #expect(plain.outputAxis(of: "w", rank: 3) == 1)
        let transposed = consumers([flag("tx", true), flag("ty", false),
                                    op("matmul", ["x": "w", "y": "y", "transpose_x": "tx", "transpose_y": "ty"])])
        #expect(transposed.outputAxis(of: "w", rank: 3) == 2)
    }

    @Test func disagreeingConsumersGiveNoAxis() {
        let uses = consumers([op("linear", ["x": "x", "weight": "w"]), op("conv_transpose", ["x": "x", "weight": "w"])])
        #expect(uses.outputAxis(of: "w", rank: 2) == nil)
        #expect(uses.uses(of: "w").map(\.type) == ["linear", "conv_transpose"])
    }

    @Test func agreeingConsumersKeepTheirAxis() {
        let uses = consumers([op("linear", ["x": "x", "weight": "w"]), op("conv", ["x": "x", "weight": "w"])])
        #expect(uses.outputAxis(of: "w", rank: 2) == 0)
    }

    @Test func anUnusedValueDefaultsToAxisZero() {
        let uses = consumers([op("linear", ["x": "x", "weight": "w"])])
        #expect(uses.uses(of: "unused").isEmpty)
        #expect(uses.outputAxis(of: "unused", rank: 2) == 0)
    }

    @Test func findsConsumersInNestedBlocks() {
        let branch = CoreML_Specification_MILSpec_Block.with {
            $0.operations = [flag("ty", true), op("matmul", ["x": "x", "y": "w", "transpose_y": "ty"])]
        }
        let cond = CoreML_Specification_MILSpec_Operation.with {
            $0.type = "cond"
            $0.inputs = ["pred": MIL.named("p")]
            $0.blocks = [branch]
        }
        let uses = consumers([cond])
        #expect(uses.uses(of: "w").map(\.type) == ["matmul"])
        #expect(uses.outputAxis(of: "w", rank: 2) == 0)
    }
}
