/// Why a QuantCore operation refused its input, worded so the caller can act on it.
public enum QuantCoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operation needs a floating-point element type.
    case notFloatingPoint(ScalarType)
    /// Encoding supports only the types scales and dequantized weights are stored in.
    case unsupportedEncoding(ScalarType)
    /// A buffer's byte or element count does not match what the shape and type imply.
    case sizeMismatch(expected: Int, actual: Int)
    /// An axis lies outside the tensor's rank.
    case axisOutOfRange(axis: Int, rank: Int)
    /// A per-axis block size list must have one entry per tensor axis.
    case blockSizeRankMismatch(blockSizes: Int, rank: Int)
    /// A block size is negative or does not divide its axis (coremltools skips such weights).
    case blockSizeDoesNotDivide(axis: Int, dimension: Int, blockSize: Int)
    /// The weights hold an infinity or NaN; coremltools skips such tensors too.
    case nonFiniteWeight
    /// A block's range is too large for its scale to be finite in the weight's precision.
    case scaleOverflow
    /// Magnitude pruning met inf or NaN, which have no place in a magnitude ranking.
    case nonFiniteMagnitude
    /// Palettization `nbits` outside {1, 2, 3, 4, 6, 8}.
    case unsupportedPaletteBitWidth(Int)
    /// kmeans and uniform palettization need `nbits`.
    case missingPaletteBitWidth(mode: String)
    /// unique palettization derives `nbits` from the weights, so it must not be given.
    case unexpectedPaletteBitWidth(mode: String)
    /// `group_size` must be positive, or 0 for the whole channel axis (as coremltools reads 0).
    case invalidGroupSize(Int)
    /// `group_size` does not divide the channel axis (coremltools skips such weights).
    case groupSizeDoesNotDivide(axis: Int, dimension: Int, groupSize: Int)
    /// `cluster_dim` must be at least 1.
    case invalidClusterDimension(Int)
    /// `cluster_dim` does not divide the channels of a group (coremltools skips such weights).
    case clusterDimensionDoesNotDivide(axis: Int, groupSize: Int, clusterDimension: Int)
    /// Vector palettization (`cluster_dim` > 1) has no uniform mode in coremltools.
    case uniformVectorPalettization
    /// unique palettization found more distinct values (or vectors) in a group than 8 bits index.
    case tooManyUniqueValues(count: Int)
    /// coremltools quantizes a palettized tensor's LUT only per tensor.
    case lutQuantizationNeedsPerTensor

    /// The weight's own values (inf or NaN) rule it out, not the config: the job leaves that
    /// weight as it is, with a warning, and goes on with the others.
    public var leavesWeightUnchanged: Bool {
        self == .nonFiniteWeight || self == .nonFiniteMagnitude
    }

    public var description: String {
        switch self {
        case .notFloatingPoint(let type):
            "\(type.rawValue) is not a floating-point type; only F64, F32, F16, BF16 and F8 weights can be decoded or quantized"
        case .unsupportedEncoding(let type):
            "cannot encode floats as \(type.rawValue); use F32, F16 or BF16"
        case .sizeMismatch(let expected, let actual):
            "buffer holds \(actual) units but the shape and type need \(expected)"
        case .axisOutOfRange(let axis, let rank):
            "axis \(axis) does not exist in a tensor of rank \(rank)"
        case .blockSizeRankMismatch(let blockSizes, let rank):
            "\(blockSizes) block sizes given for a tensor of rank \(rank); give one per axis"
        case .blockSizeDoesNotDivide(let axis, let dimension, let blockSize):
            "block size \(blockSize) does not divide dimension \(dimension) of axis \(axis); pick a divisor or 0 for the whole axis"
        case .nonFiniteWeight:
            "it contains inf or NaN values, which cannot be quantized or palettized"
        case .scaleOverflow:
            "the tensor's value range overflows its scale in the weight's precision; leave it uncompressed or convert it to F32 first"
        case .nonFiniteMagnitude:
            "it contains inf or NaN values, which magnitude pruning cannot rank"
        case .unsupportedPaletteBitWidth(let bits):
            "nbits \(bits) is not supported for palettization; use 1, 2, 3, 4, 6 or 8"
        case .missingPaletteBitWidth(let mode):
            "nbits is required for \(mode) palettization; use 1, 2, 3, 4, 6 or 8"
        case .unexpectedPaletteBitWidth(let mode):
            "nbits must not be given for \(mode) palettization; it follows from the number of unique values"
        case .invalidGroupSize(let size):
            "group_size \(size) is negative; give the channels per group, or 0 for the whole channel axis"
        case .groupSizeDoesNotDivide(let axis, let dimension, let groupSize):
            "group_size \(groupSize) does not divide the \(dimension) channels of axis \(axis) (channel_axis); pick a divisor"
        case .invalidClusterDimension(let dimension):
            "cluster_dim \(dimension) must be at least 1"
        case .clusterDimensionDoesNotDivide(let axis, let groupSize, let clusterDimension):
            "cluster_dim \(clusterDimension) does not divide the \(groupSize) channels per group on axis \(axis); pick a divisor of the group size"
        case .uniformVectorPalettization:
            "uniform palettization does not support cluster_dim > 1; use kmeans or unique"
        case .tooManyUniqueValues(let count):
            "unique palettization found \(count) distinct values in a group, more than 8 bits can index; use kmeans"
        case .lutQuantizationNeedsPerTensor:
            "quantizing a palettized tensor's LUT needs granularity per_tensor, as in coremltools' joint compression"
        }
    }
}
