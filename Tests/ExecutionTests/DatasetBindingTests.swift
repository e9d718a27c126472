import Testing
@testable import Execution

/// Datasets checked against hand-built model inputs: every rule of `DatasetBinding` and the
/// message a user sees when a rule is broken.
@Suite struct DatasetBindingTests {
    typealias ArrayInfo = DatasetSignature.ArrayInfo

    static func signature(_ arrays: (String, DatasetElementType, [Int])...) -> DatasetSignature {
        DatasetSignature(arrays: arrays.map { ArrayInfo(name: $0.0, elementType: $0.1, shape: $0.2) })
    }

    static func mismatch(_ signature: DatasetSignature, _ inputs: [GraphInput]) -> DatasetMismatch? {
        do {
            _ = try DatasetBinding(signature, inputs: inputs)
            return nil
        } catch {
            return error
        }
    }

    @Test func aFloatInputWithAFlexibleBatchTakesAnyNumberOfSamples() throws {
        let input = GraphInput(name: "x", elementType: .float32, shape: [nil, 3, 224, 224])
        let binding = try DatasetBinding(Self.signature(("x", .float16, [64, 3, 224, 224])), inputs: [input])
        #expect(binding.fixedBatchSize == nil)
        #expect(binding.sampleCount == 64)
        #expect(binding.feeds == [.init(input: input, array: ArrayInfo(name: "x", elementType: .float16, shape: [64, 3, 224, 224]))])
    }

    @Test func aFixedBatchDimensionSetsTheSamplesPerRun() throws {
        let input = GraphInput(name: "x", elementType: .float32, shape: [8, 16])
        let binding = try DatasetBinding(Self.signature(("x", .float64, [100, 16])), inputs: [input])
        #expect(binding.fixedBatchSize == 8)
    }

    @Test func theModelsWrongDimensionIsNamedWithWhatItExpects() {
        let input = GraphInput(name: "x", elementType: .float32, shape: [nil, 3, 224, 224])
        let error = Self.mismatch(Self.signature(("x", .float32, [64, 3, 256, 256])), [input])
        #expect(error?.message == "input 'x': the model expects float32 [N, 3, 224, 224] (N samples); "
            + "the dataset's array 'x' is float32 [64, 3, 256, 256]: axis 2 is 256 where the model needs 224")
    }

    @Test func flexibleDimensionsTakeAnySize() throws {
        let input = GraphInput(name: "ids", elementType: .int64, shape: [1, nil])
        let binding = try DatasetBinding(Self.signature(("ids", .int32, [10, 77])), inputs: [input])
        #expect(binding.fixedBatchSize == 1)
    }

    @Test func theRankMustBeTheInputsWithSamplesInPlaceOfTheBatch() {
        let input = GraphInput(name: "x", elementType: .float32, shape: [1, 16])
        let error = Self.mismatch(Self.signature(("x", .float32, [10, 4, 16])), [input])
        #expect(error?.message == "input 'x': the model expects float32 [N, 16] (N samples, fed 1 at a time); the dataset's array 'x' "
            + "is float32 [10, 4, 16]: it has 3 axes where the model's input has 2 (samples first, in place of the batch dimension)")
    }

    @Test func elementTypesDoNotChangeKind() {
        let float = GraphInput(name: "x", elementType: .float32, shape: [nil, 4])
        let ids = GraphInput(name: "x", elementType: .int64, shape: [nil, 4])
        let mask = GraphInput(name: "x", elementType: .bool, shape: [nil, 4])
        #expect(Self.mismatch(Self.signature(("x", .int64, [2, 4])), [float])?.message.hasSuffix(
            "a float32 input takes float16, float32 or float64 arrays") == true)
        #expect(Self.mismatch(Self.signature(("x", .float32, [2, 4])), [ids])?.message.hasSuffix(
            "an int64 input takes integer arrays (int8 to int64, uint8 to uint64)") == true)
        #expect(Self.mismatch(Self.signature(("x", .uint8, [2, 4])), [mask])?.message.hasSuffix("a bool input takes bool arrays") == true)
        for type in [DatasetElementType.uint64, .int8, .uint16] {
            #expect(Self.mismatch(Self.signature(("x", type, [2, 4])), [ids]) == nil)
        }
        #expect(Self.mismatch(Self.signature(("x", .bool, [2, 4])), [mask]) == nil)
    }

    @Test func aSingleInputModelTakesASingleArrayOfAnyName() throws {
        let input = GraphInput(name: "input_1", elementType: .float32, shape: [nil, 4])
        let binding = try DatasetBinding(Self.signature(("samples", .float32, [5, 4])), inputs: [input])
        #expect(binding.feeds.map(\.array.name) == ["samples"])
    }

    @Test func everyInputOfAMultiInputModelNeedsItsOwnArrayByName() throws {
        let inputs = [GraphInput(name: "input_ids", elementType: .int64, shape: [nil, nil]),
                      GraphInput(name: "attention_mask", elementType: .int64, shape: [nil, nil])]
        let error = Self.mismatch(Self.signature(("input_ids", .int64, [3, 7]), ("mask", .int64, [3, 7])), inputs)
        #expect(error == .missingArray(input: "attention_mask", expected: "int64 [N, ?] (N samples)", available: ["input_ids", "mask"]))
        #expect(error?.message.contains("name each array after the model input it feeds") == true)
        let binding = try DatasetBinding(Self.signature(("attention_mask", .int8, [3, 7]), ("input_ids", .int64, [3, 7]),
                                                        ("labels", .int64, [3])), inputs: inputs)
        #expect(binding.feeds.map(\.array.name) == ["input_ids", "attention_mask"])
        #expect(binding.unusedArrays == ["labels"])
    }

    @Test func aSingleInputModelWithSeveralArraysNeedsOneNamedAfterIt() {
        let input = GraphInput(name: "x", elementType: .float32, shape: [nil, 4])
        #expect(Self.mismatch(Self.signature(("a", .float32, [5, 4]), ("b", .float32, [5, 4])), [input])
            == .missingArray(input: "x", expected: "float32 [N, 4] (N samples)", available: ["a", "b"]))
    }

    @Test func inputsFixingDifferentBatchSizesCannotBeFed() {
        let inputs = [GraphInput(name: "a", elementType: .float32, shape: [2, 4]),
                      GraphInput(name: "b", elementType: .float32, shape: [4, 4])]
        #expect(Self.mismatch(Self.signature(("a", .float32, [8, 4]), ("b", .float32, [8, 4])), inputs)
            == .conflictingBatchSizes(input: "a", size: 2, otherInput: "b", otherSize: 4))
    }

    @Test func aScalarInputHasNoAxisForSamples() {
        let input = GraphInput(name: "t", elementType: .float32, shape: [])
        #expect(Self.mismatch(Self.signature(("t", .float32, [5])), [input]) == .scalarInput(input: "t"))
    }

    @Test func anImageInputTakesHeightWidthChannelsPixelsOfItsSize() throws {
        let rgb = ImagePreprocessing(scale: 1 / 255, bias: [0, 0, 0], channelOrder: .rgb)
        let input = GraphInput(name: "image", elementType: .float32, shape: [1, 3, 224, 224], image: rgb)
        #expect(Self.mismatch(Self.signature(("image", .uint8, [10, 224, 224, 3])), [input]) == nil)
        #expect(Self.mismatch(Self.signature(("image", .float32, [10, 224, 224, 3])), [input]) == nil)
        #expect(Self.mismatch(Self.signature(("image", .uint8, [10, 3, 224, 224])), [input])?.message ==
            "input 'image': the model expects an RGB image: uint8 or float [N, 224, 224, 3] (N samples of height × width × channels, fed 1 at a time); "
            + "the dataset's array 'image' is uint8 [10, 3, 224, 224]: its last axis holds 224 channels where the model's RGB image needs 3")
        #expect(Self.mismatch(Self.signature(("image", .uint8, [10, 200, 224, 3])), [input])?.message.hasSuffix(
            "its images' height is 200 where the model needs 224") == true)
        #expect(Self.mismatch(Self.signature(("image", .int16, [10, 224, 224, 3])), [input])?.message.hasSuffix(
            "an image input takes uint8 or float pixels") == true)
    }

    @Test func aGrayscaleImageMayDropItsChannelAxisAndAFlexibleSizeTakesAny() throws {
        let gray = ImagePreprocessing(scale: 1, bias: [0], channelOrder: .grayscale)
        let input = GraphInput(name: "digit", elementType: .float32, shape: [nil, 1, nil, nil], image: gray)
        #expect(Self.mismatch(Self.signature(("digit", .uint8, [10, 28, 28])), [input]) == nil)
        #expect(Self.mismatch(Self.signature(("digit", .uint8, [10, 28, 28, 1])), [input]) == nil)
        #expect(Self.mismatch(Self.signature(("digit", .uint8, [10, 28, 28, 3])), [input]) != nil)
    }

    @Test func anImageInputNotDeclaredAsBatchChannelsHeightWidthIsReported() {
        let rgb = ImagePreprocessing(scale: 1, bias: [0, 0, 0], channelOrder: .rgb)
        let input = GraphInput(name: "image", elementType: .float32, shape: [1, 3, 224], image: rgb)
        #expect(Self.mismatch(Self.signature(("image", .uint8, [1, 224, 224, 3])), [input])
            == .malformedImageInput(input: "image", shape: "[1, 3, 224]"))
    }
}
