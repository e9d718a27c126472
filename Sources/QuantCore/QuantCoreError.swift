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
            "the tensor contains inf or NaN values and cannot be linearly quantized; leave it uncompressed"
        case .scaleOverflow:
            "the tensor's value range overflows its scale in the weight's precision; leave it uncompressed or convert it to F32 first"
        case .nonFiniteMagnitude:
            "the tensor contains inf or NaN values, which magnitude pruning cannot rank; use threshold pruning or leave it uncompressed"
        }
    }
}
