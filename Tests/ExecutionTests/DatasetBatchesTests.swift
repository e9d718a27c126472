import Testing
@testable import Execution

/// Datasets cut into the executor's runs: batch sizes fixed and flexible, slices as they are,
/// images turned from H×W×C into N×C×H×W in the model's channel order.
@Suite struct DatasetBatchesTests {
    static func binding(_ input: GraphInput, _ array: DatasetSignature.ArrayInfo) throws -> DatasetBinding {
        try DatasetBinding(DatasetSignature(arrays: [array]), inputs: [input])
    }

    @Test func aFlexibleBatchTakesThePreferredSizeAndALastSmallerBatch() throws {
        let input = GraphInput(name: "ids", elementType: .int64, shape: [nil, 2])
        let binding = try Self.binding(input, .init(name: "ids", elementType: .int32, shape: [5, 2]))
        let batches = DatasetBatches(binding: binding, arrays: ["ids": ConstantTensor(shape: [5, 2], elements: .int64(Array(0..<10)))],
                                     preferredBatchSize: 2)
        #expect(batches.batchCount == 3 && batches.omittedSamples == 0)
        #expect(batches.batch(1).inputs == ["ids": Tensor(shape: [2, 2], int64s: [4, 5, 6, 7])])
        #expect(batches.batch(2).samples == 1)
        #expect(batches.batch(2).inputs["ids"] == Tensor(shape: [1, 2], int64s: [8, 9]))
    }

    @Test func aFixedBatchRunsWholeBatchesAndSaysHowManySamplesItLeftOut() throws {
        let input = GraphInput(name: "x", elementType: .float32, shape: [2, 1])
        let binding = try Self.binding(input, .init(name: "samples", elementType: .float64, shape: [5, 1]))
        let batches = DatasetBatches(binding: binding, arrays: ["samples": ConstantTensor(shape: [5, 1], elements: .float32([1, 2, 3, 4, 5]))],
                                     preferredBatchSize: 64)
        #expect(batches.batchSize == 2 && batches.batchCount == 2 && batches.omittedSamples == 1)
        #expect(batches.batch(1).inputs == ["x": Tensor(shape: [2, 1], floats: [3, 4])])
    }

    @Test func imagePixelsBecomeChannelPlanesInTheModelsOrderScaledAndBiased() throws {
        let bgr = ImagePreprocessing(scale: 2, bias: [0.5, 0, -1], channelOrder: .bgr)
        let input = GraphInput(name: "image", elementType: .float32, shape: [1, 3, 1, 2], image: bgr)
        let binding = try Self.binding(input, .init(name: "image", elementType: .uint8, shape: [1, 1, 2, 3]))
        // One 1×2 image: pixel 0 is RGB (10, 20, 30), pixel 1 is (40, 50, 60).
        let pixels = ConstantTensor(shape: [1, 1, 2, 3], elements: .int64([10, 20, 30, 40, 50, 60]))
        let batch = DatasetBatches(binding: binding, arrays: ["image": pixels], preferredBatchSize: 8).batch(0)
        #expect(batch.inputs["image"] == Tensor(shape: [1, 3, 1, 2], floats: [60.5, 120.5, 40, 100, 19, 79]))
    }

    @Test func aGrayscaleImageWithoutAChannelAxisGetsOne() throws {
        let gray = ImagePreprocessing(scale: 1, bias: [0], channelOrder: .grayscale)
        let input = GraphInput(name: "digit", elementType: .float32, shape: [nil, 1, 2, 2], image: gray)
        let binding = try Self.binding(input, .init(name: "digit", elementType: .float32, shape: [2, 2, 2]))
        let pixels = ConstantTensor(shape: [2, 2, 2], elements: .float32([1, 2, 3, 4, 5, 6, 7, 8]))
        let batch = DatasetBatches(binding: binding, arrays: ["digit": pixels], preferredBatchSize: 8).batch(0)
        #expect(batch.inputs["digit"] == Tensor(shape: [2, 1, 2, 2], floats: [1, 2, 3, 4, 5, 6, 7, 8]))
        #expect(batch.samples == 2)
    }
}
