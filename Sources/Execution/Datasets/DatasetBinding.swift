/// Which dataset array feeds which model input: the result of checking a dataset's signature
/// against a model's inputs, and what `DatasetBatches` follows.
///
/// The rules, per input:
/// - **Name**: the array named after the input. A single-input model may take a dataset of a
///   single array under any name. Arrays no input reads (labels, say) are left alone.
/// - **Samples**: an array's first axis holds the samples and stands in for the model's batch
///   dimension. A fixed batch dimension B means the samples are fed B at a time; a flexible
///   one (nil) takes any number.
/// - **Shape**: the array has the input's rank; each later dimension equals the model's where
///   the model fixes it and is free where the model leaves it flexible.
/// - **Element type**: a float32 input takes float16, float32 or float64 arrays; an int64 input
///   takes integer arrays (signed or unsigned, any width); a bool input takes bool arrays. No
///   array changes kind (an integer array for a float input is refused: it is usually token
///   ids or labels in the wrong slot).
/// - **Core ML images** (`GraphInput.image`, declared [batch, channels, height, width]): the
///   array holds pixels as [samples, height, width, channels] (3 channels, or 1 for
///   grayscale, which may also drop its channel axis) of uint8 or float, height and width as
///   the model fixes them.
public struct DatasetBinding: Sendable, Equatable {
    public struct Feed: Sendable, Equatable {
        public let input: GraphInput
        public let array: DatasetSignature.ArrayInfo
    }

    /// One per model input, in the model's input order.
    public let feeds: [Feed]
    /// Samples per run when an input fixes its batch dimension; nil lets the caller choose.
    public let fixedBatchSize: Int?
    public let sampleCount: Int
    /// Arrays no input reads, in the file's order.
    public let unusedArrays: [String]

    public init(_ signature: DatasetSignature, inputs: [GraphInput]) throws(DatasetMismatch) {
        var feeds: [Feed] = []
        var batch: (input: String, size: Int)?
        for input in inputs {
            let expected = Self.describeExpectation(input)
            let array: DatasetSignature.ArrayInfo
            if let named = signature.array(named: input.name) {
                array = named
            } else if inputs.count == 1, signature.arrays.count == 1 {
                array = signature.arrays[0]
            } else {
                throw .missingArray(input: input.name, expected: expected, available: signature.arrays.map(\.name))
            }
            guard let batchDimension = input.shape.first else { throw .scalarInput(input: input.name) }
            if let reason = try Self.misfit(array, input) {
                throw .arrayDoesNotFit(input: input.name, array: array.name, expected: expected,
                                       found: "\(array.elementType.rawValue) \(Self.describe(array.shape))", reason: reason)
            }
            if let size = batchDimension {
                if let batch, batch.size != size {
                    throw .conflictingBatchSizes(input: batch.input, size: batch.size, otherInput: input.name, otherSize: size)
                }
                batch = (input.name, size)
            }
            feeds.append(Feed(input: input, array: array))
        }
        let used = Set(feeds.map(\.array.name))
        self.feeds = feeds
        fixedBatchSize = batch?.size
        sampleCount = signature.sampleCount
        unusedArrays = signature.arrays.map(\.name).filter { !used.contains($0) }
    }

    /// Why `array` cannot feed `input`, or nil when it can.
    private static func misfit(_ array: DatasetSignature.ArrayInfo, _ input: GraphInput) throws(DatasetMismatch) -> String? {
        if let image = input.image {
            guard input.shape.count == 4 else {
                throw .malformedImageInput(input: input.name, shape: describe(input.shape, batch: false))
            }
            guard array.elementType == .uint8 || array.elementType.isFloat else {
                return "an image input takes uint8 or float pixels"
            }
            let channels = image.channelOrder == .grayscale ? 1 : 3
            let pixels: [Int]
            if array.shape.count == 4 {
                guard array.shape[3] == channels else {
                    return "its last axis holds \(array.shape[3]) channels where the model's \(describe(image.channelOrder)) image needs \(channels)"
                }
                pixels = Array(array.shape[1...2])
            } else if array.shape.count == 3, channels == 1 {
                pixels = Array(array.shape[1...2])
            } else {
                return "it has \(array.shape.count) axes; images are [samples, height, width, channels]"
            }
            for (axis, name) in [(0, "height"), (1, "width")] {
                if let fixed = input.shape[2 + axis], fixed != pixels[axis] {
                    return "its images' \(name) is \(pixels[axis]) where the model needs \(fixed)"
                }
            }
            return nil
        }
        switch input.elementType {
        case .float32 where !array.elementType.isFloat:
            return "a float32 input takes float16, float32 or float64 arrays"
        case .int64 where !array.elementType.isInteger:
            return "an int64 input takes integer arrays (int8 to int64, uint8 to uint64)"
        case .bool where array.elementType != .bool:
            return "a bool input takes bool arrays"
        default:
            break
        }
        guard array.shape.count == input.shape.count else {
            return "it has \(array.shape.count) axes where the model's input has \(input.shape.count) (samples first, in place of the batch dimension)"
        }
        for axis in 1..<input.shape.count {
            if let fixed = input.shape[axis], fixed != array.shape[axis] {
                return "axis \(axis) is \(array.shape[axis]) where the model needs \(fixed)"
            }
        }
        return nil
    }

    /// What the model takes, as the array it wants: `float32 [N, 3, 224, 224] (N samples)`.
    static func describeExpectation(_ input: GraphInput) -> String {
        guard let batch = input.shape.first else { return "a scalar" }
        let runs = batch.map { ", fed \($0) at a time" } ?? ""
        if let image = input.image, input.shape.count == 4 {
            let channels = image.channelOrder == .grayscale ? 1 : 3
            let pixels = describe([nil, input.shape[2], input.shape[3], channels], batch: true)
            let kind = describe(image.channelOrder)
            return "\(kind == "RGB" ? "an" : "a") \(kind) image: uint8 or float \(pixels) (N samples of height × width × channels\(runs))"
        }
        let type = switch input.elementType {
        case .float32: "float32"
        case .int64: "int64"
        case .bool: "bool"
        }
        return "\(type) \(describe(input.shape, batch: true)) (N samples\(runs))"
    }

    /// `[N, 3, ?, 224]`: N for the samples axis, ? for a dimension the model leaves flexible.
    static func describe(_ shape: [Int?], batch: Bool) -> String {
        "[" + shape.enumerated().map { axis, dimension in
            if batch && axis == 0 { return "N" }
            return dimension.map(String.init) ?? "?"
        }.joined(separator: ", ") + "]"
    }

    static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }

    private static func describe(_ order: ImagePreprocessing.ChannelOrder) -> String {
        switch order {
        case .rgb: "RGB"
        case .bgr: "BGR"
        case .grayscale: "grayscale"
        }
    }
}
