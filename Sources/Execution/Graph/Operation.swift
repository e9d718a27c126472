/// What the executor knows how to compute. Each case lists its operands in `Node.inputs` order;
/// `?` marks an optional operand. Static parameters are associated values; operands that a
/// format may compute at run time (shapes, axes of ONNX ≥ 13) are inputs.
///
/// Axes may be negative (counted from the end), as in both formats.
public enum Operation: Sendable, Equatable {
    /// x, weight [Cout, Cin/groups, k...], bias? — N-d convolution (1-d and 2-d at least).
    case convolution(Convolution)
    /// x, weight [Cin, Cout/groups, k...], bias?
    case convolutionTranspose(ConvolutionTranspose)
    /// a, b, c? — ONNX Gemm: alpha·op(a)·op(b) + beta·c, c broadcast to the result.
    case gemm(transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float)
    /// x, weight [out, in], bias? — MIL linear: x·weightᵀ + bias over the last axis.
    case linear
    /// a, b — numpy matmul (batched, broadcast batch axes, rank-1 operands promoted), with
    /// MIL's transpose of each operand's last two axes.
    case matMul(transposeA: Bool, transposeB: Bool)
    /// x, scale, bias, mean, variance — channels on axis 1.
    case batchNormalization(epsilon: Float)
    /// x, scale?, bias? — normalizes over `axes` (ONNX: axis…rank-1; MIL: its axes list);
    /// scale and bias have the normalized axes' shape.
    case layerNormalization(axes: [Int], epsilon: Float)
    /// x, scale?, bias? — per-channel scale and bias, channels on axis 1.
    case instanceNormalization(epsilon: Float)
    /// x, scale?, bias? — `groups` groups of channels on axis 1; scale and bias per channel.
    case groupNormalization(groups: Int, epsilon: Float)
    /// x
    case unary(UnaryFunction)
    /// a, b — numpy broadcasting.
    case binary(BinaryFunction)
    /// x, min?, max? — min/max are scalars (ReLU6 is clip(0, 6)).
    case clip
    /// condition, a, b
    case select
    /// x, axes? — `axes` nil reads the optional second operand; no axes at all reduces
    /// everything unless `noopWithEmptyAxes`.
    case reduce(ReduceFunction, axes: [Int]?, keepDimensions: Bool, noopWithEmptyAxes: Bool)
    /// x, axis as a scalar int64? — ONNX ArgMax/ArgMin (result int64).
    case argReduce(ArgReduceFunction, axis: Int, keepDimensions: Bool, selectLastIndex: Bool)
    /// x
    case pool(Pooling)
    /// x — over every spatial axis, keeping them as size 1.
    case globalPool(PoolKind)
    /// x
    case softmax(axis: Int)
    /// x
    case logSoftmax(axis: Int)
    /// query, key, value, mask? — softmax(q·kᵀ·scale + mask)·v over the last two axes; scale
    /// nil is 1/√(head size). A bool mask keeps where true; a float mask is added.
    case scaledDotProductAttention(scale: Float?, causal: Bool)
    /// x
    case cast(ElementType)
    /// x
    case identity

    // Shape and layout
    /// x, shape (int64) — 0 copies the input's dimension unless `allowZero`, -1 is inferred.
    case reshape(allowZero: Bool)
    /// x — nil reverses the axes.
    case transpose(permutation: [Int]?)
    /// x...
    case concat(axis: Int)
    /// x, sizes? — into `Node.outputs.count` parts: the given sizes, or `sizes` operand, or equal parts.
    case split(axis: Int, sizes: [Int]?)
    /// data, starts, ends, axes?, steps? (int64) — ONNX Slice, ends clamped; MIL
    /// slice_by_index lowers onto it (masks become ±∞ bounds, squeeze_mask a squeeze after).
    case slice
    /// data, indices (int64, negative counts from the end)
    case gather(axis: Int)
    /// data, indices — ONNX GatherElements.
    case gatherElements(axis: Int)
    /// x, axes? — nil reads the optional operand; no axes removes every size-1 axis.
    case squeeze(axes: [Int]?)
    /// x, axes? — nil reads the operand.
    case unsqueeze(axes: [Int]?)
    /// x — to 2-d at `axis`.
    case flatten(axis: Int)
    /// x, shape (int64) — numpy broadcast of x to shape.
    case expand
    /// x, repeats (int64)
    case tile
    /// x, pads (int64, all begins then all ends), value? — constant, reflect or edge.
    case pad(PadMode)
    /// x — its shape as int64, dimensions start..<end (ONNX Shape-15).
    case shape(start: Int, end: Int?)
    /// shape (int64) — filled with `value`.
    case constantOfShape(ConstantTensor)
    /// start, limit, delta (scalars)
    case range
    /// x, k (int64 scalar) — values and indices outputs.
    case topK(axis: Int, largest: Bool, sorted: Bool)
    /// x, axis (int64 scalar) — ONNX CumSum.
    case cumulativeSum(exclusive: Bool, reverse: Bool)

    // Quantized and compressed forms
    /// x (integer codes as float or int64), scale, zeroPoint? — per tensor, per `axis`, or in
    /// blocks of `blockSize` along `axis` (ONNX DequantizeLinear-21, MIL dequantize).
    case dequantizeLinear(axis: Int, blockSize: Int?)
    /// x, scale, zeroPoint? — round half to even, saturate to the zero point's integer type.
    case quantizeLinear(axis: Int, blockSize: Int?, range: ClosedRange<Int>)
    /// a, packed B (uint8 as int64), scales, zeroPoints? — onnxruntime's com.microsoft.MatMulNBits.
    case matMulNBits(k: Int, n: Int, bits: Int, blockSize: Int)
}

public enum UnaryFunction: Sendable, Equatable {
    case relu, sigmoid, tanh, erf, exp, log, sqrt, reciprocalSquareRoot, reciprocal, negate, absolute
    case floor, ceil, round, sign, sin, cos, not
    /// x·Φ(x) with the exact normal CDF.
    case geluExact
    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    case geluTanh
    /// x·sigmoid(1.702·x) (MIL gelu mode SIGMOID_APPROXIMATION).
    case geluSigmoid
    case silu
    case softplus
    case softsign
    case leakyRelu(alpha: Float)
    case elu(alpha: Float)
    /// max(0, min(1, alpha·x + beta))
    case hardSigmoid(alpha: Float, beta: Float)
    /// x·hardSigmoid(x) with alpha 1/6, beta 0.5.
    case hardSwish
    /// alpha·tanh(beta·x)
    case scaledTanh(alpha: Float, beta: Float)
}

public enum BinaryFunction: Sendable, Equatable {
    case add, subtract, multiply, divide, power, maximum, minimum
    /// Integer division rounds toward negative infinity for MIL floor_div, toward zero for ONNX Div on ints.
    case floorDivide
    case modulo
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
    case and, or, xor
}

public enum ReduceFunction: Sendable, Equatable {
    case sum, mean, max, min, product, sumSquare, l1, l2, logSumExp
}

public enum ArgReduceFunction: Sendable, Equatable { case max, min }

public enum PoolKind: Sendable, Equatable { case average, max }

public enum PadMode: Sendable, Equatable { case constant, reflect, edge }

/// Explicit padding per spatial axis, or the formats' automatic forms resolved against the
/// input's shape at run time.
public enum Padding: Sendable, Equatable {
    /// All begins, then all ends (ONNX `pads` order).
    case explicit([Int])
    case valid
    /// Output = ceil(input / stride); the odd pad at the end (ONNX SAME_UPPER, MIL `same`).
    case sameUpper
    /// The odd pad at the beginning.
    case sameLower
}

public struct Convolution: Sendable, Equatable {
    public let strides: [Int]
    public let dilations: [Int]
    public let padding: Padding
    public let groups: Int

    public init(strides: [Int], dilations: [Int], padding: Padding, groups: Int) {
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        self.groups = groups
    }
}

public struct ConvolutionTranspose: Sendable, Equatable {
    public let strides: [Int]
    public let dilations: [Int]
    public let padding: Padding
    public let groups: Int
    public let outputPadding: [Int]
    /// Spatial output shape when the model gives one (then padding is derived from it).
    public let outputShape: [Int]?

    public init(strides: [Int], dilations: [Int], padding: Padding, groups: Int, outputPadding: [Int], outputShape: [Int]?) {
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        self.groups = groups
        self.outputPadding = outputPadding
        self.outputShape = outputShape
    }
}

public struct Pooling: Sendable, Equatable {
    public let kind: PoolKind
    public let kernel: [Int]
    public let strides: [Int]
    public let dilations: [Int]
    public let padding: Padding
    public let ceilMode: Bool
    /// Average pooling: padded positions count in the divisor (ONNX count_include_pad,
    /// MIL exclude_padding_from_average == false).
    public let countIncludesPadding: Bool

    public init(kind: PoolKind, kernel: [Int], strides: [Int], dilations: [Int], padding: Padding,
                ceilMode: Bool, countIncludesPadding: Bool) {
        self.kind = kind
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludesPadding = countIncludesPadding
    }
}
