/// A dataset cut into the executor's runs: for batch `i`, one `Tensor` per model input holding
/// that batch's samples, in the form the input takes (what `Evaluation.run`'s `batch` gives).
///
/// - Batch size: the model's fixed batch dimension when it has one, else `preferredBatchSize`;
///   the last batch of a flexible model may be smaller. A fixed batch of B runs only whole
///   batches: the last `samples % B` samples are left out (`omittedSamples` says how many),
///   since padding them would put samples that do not exist into the comparison.
/// - Element types: the arrays come widened (floats as float32, integers as int64), as the
///   readers give them, so an input's slice is its array's elements as they are.
/// - Images: [samples, height, width, channels] pixels in RGB order (or grayscale) become
///   [samples, channels, height, width] in the model's channel order (BGR models get their
///   channels reversed), each pixel `scale · pixel + bias[channel]` as `ImagePreprocessing`
///   says the program reads it (for ML Programs the lowering keeps coremltools' scale and bias
///   inside the program and passes scale 1, bias 0).
public struct DatasetBatches: Sendable {
    public let binding: DatasetBinding
    public let batchSize: Int
    public let batchCount: Int
    public let omittedSamples: Int
    /// By array name: every sample of each array an input reads.
    private let arrays: [String: ConstantTensor]

    /// `arrays` holds every array `binding` feeds from, by name, widened as `DatasetFile`
    /// gives them, with the shapes the binding was checked with.
    public init(binding: DatasetBinding, arrays: [String: ConstantTensor], preferredBatchSize: Int) {
        for feed in binding.feeds {
            precondition(arrays[feed.array.name]?.shape == feed.array.shape, "array '\(feed.array.name)' is not the one the binding checked")
        }
        let samples = binding.sampleCount
        self.binding = binding
        self.arrays = arrays
        if let fixed = binding.fixedBatchSize {
            batchSize = fixed
            batchCount = samples / fixed
            omittedSamples = samples % fixed
        } else {
            batchSize = max(1, min(preferredBatchSize, samples))
            batchCount = (samples + batchSize - 1) / batchSize
            omittedSamples = 0
        }
    }

    /// Batch `index` (0..<batchCount): the inputs by model input name, and how many samples
    /// they hold.
    public func batch(_ index: Int) -> (inputs: [String: Tensor], samples: Int) {
        precondition((0..<batchCount).contains(index), "batch \(index) of \(batchCount)")
        let start = index * batchSize
        let samples = min(start + batchSize, binding.sampleCount) - start
        var inputs: [String: Tensor] = [:]
        for feed in binding.feeds {
            let array = arrays[feed.array.name]!
            let range = start..<(start + samples)
            inputs[feed.input.name] = if let image = feed.input.image {
                Self.image(array, range, image)
            } else {
                Self.slice(array, range)
            }
        }
        return (inputs, samples)
    }

    /// Samples `range` of `array`, its elements as they are.
    static func slice(_ array: ConstantTensor, _ range: Range<Int>) -> Tensor {
        let perSample = array.shape.dropFirst().reduce(1, *)
        let elements = (range.lowerBound * perSample)..<(range.upperBound * perSample)
        let shape = [range.count] + array.shape.dropFirst()
        return switch array.elements {
        case .float32(let values): Tensor(shape: shape, floats: Array(values[elements]))
        case .int64(let values): Tensor(shape: shape, int64s: Array(values[elements]))
        case .bool(let values): Tensor(shape: shape, bools: Array(values[elements]))
        }
    }

    /// Samples `range` of H×W×C (or H×W grayscale) pixels as the N×C×H×W float32 tensor the
    /// program reads.
    static func image(_ array: ConstantTensor, _ range: Range<Int>, _ preprocessing: ImagePreprocessing) -> Tensor {
        let height = array.shape[1], width = array.shape[2]
        let channels = array.shape.count == 4 ? array.shape[3] : 1
        let pixel: (Int) -> Float = switch array.elements {
        case .float32(let values): { values[$0] }
        case .int64(let values): { Float(values[$0]) }
        case .bool(let values): { values[$0] ? 1 : 0 }
        }
        let plane = height * width
        var out = [Float](repeating: 0, count: range.count * channels * plane)
        for (n, sample) in range.enumerated() {
            for channel in 0..<channels {
                // The dataset's pixels are RGB; a BGR program reads them reversed.
                let source = preprocessing.channelOrder == .bgr ? channels - 1 - channel : channel
                let scale = preprocessing.scale, bias = preprocessing.bias[channel]
                let destination = (n * channels + channel) * plane
                for position in 0..<plane {
                    out[destination + position] = scale * pixel((sample * plane + position) * channels + source) + bias
                }
            }
        }
        return Tensor(shape: [range.count, channels, height, width], floats: out)
    }
}
