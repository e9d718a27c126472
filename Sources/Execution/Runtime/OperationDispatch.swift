/// From a node's operation to its kernel, with the operands in the operation's documented order.
enum OperationDispatch {
    static func execute(_ node: Node, _ operands: [Value?], _ context: KernelContext) throws(ExecutionError) -> [Value] {
        try execute(node.operation, outputs: node.outputs.count, operands, clamp: nil, context)
    }

    /// `clamp` is a merged activation's (see `ConvolutionFusion`); only a convolution has one,
    /// and then perhaps a merged residual as a fourth operand.
    static func execute(_ operation: Operation, outputs: Int, _ operands: [Value?], clamp: Clamp?,
                        _ context: KernelContext) throws(ExecutionError) -> [Value] {
        func operand(_ index: Int, _ what: String) throws(ExecutionError) -> Value {
            try context.operand(operands, index, what)
        }
        func float(_ index: Int, _ what: String) throws(ExecutionError) -> Value {
            try context.floatOperand(operands, index, what)
        }
        func optional(_ index: Int) -> Value? {
            index < operands.count ? operands[index] : nil
        }
        /// A list of integers given as an attribute, else read from an optional operand.
        func integers(_ attribute: [Int]?, operand index: Int) -> [Int]? {
            attribute ?? optional(index)?.integers
        }
        switch operation {
        case .convolution(let attributes):
            return [try ConvolutionKernel.run(try float(0, "input"), weight: try float(1, "weight"), bias: optional(2), attributes,
                                              residual: optional(3), clamp: clamp, context)]
        case .convolutionTranspose(let attributes):
            return [try ConvolutionTransposeKernel.run(try float(0, "input"), weight: try float(1, "weight"), bias: optional(2), attributes, context)]
        case .gemm(let transposeA, let transposeB, let alpha, let beta):
            return [try MatMulKernel.gemm(try float(0, "a"), try float(1, "b"), optional(2),
                                          transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, context)]
        case .linear:
            return [try MatMulKernel.linear(try float(0, "input"), weight: try float(1, "weight"), bias: optional(2), context)]
        case .matMul(let transposeA, let transposeB):
            return [try MatMulKernel.matMul(try operand(0, "a"), try operand(1, "b"), transposeA: transposeA, transposeB: transposeB, context)]
        case .batchNormalization(let epsilon):
            return [try NormalizationKernels.batch(try float(0, "input"), scale: try float(1, "scale"), bias: try float(2, "bias"),
                                                   mean: try float(3, "mean"), variance: try float(4, "variance"), epsilon: epsilon, context)]
        case .layerNormalization(let axes, let epsilon):
            return [try NormalizationKernels.layer(try float(0, "input"), scale: optional(1), bias: optional(2), axes: axes, epsilon: epsilon, context)]
        case .instanceNormalization(let epsilon):
            return [try NormalizationKernels.instance(try float(0, "input"), scale: optional(1), bias: optional(2), epsilon: epsilon, context)]
        case .groupNormalization(let groups, let epsilon):
            return [try NormalizationKernels.grouped(try float(0, "input"), scale: optional(1), bias: optional(2), groups: groups, epsilon: epsilon, context)]
        case .unary(let function):
            return [try UnaryKernel.run(function, try operand(0, "input"), context)]
        case .binary(let function):
            return [try BinaryKernel.run(function, try operand(0, "a"), try operand(1, "b"), context)]
        case .clip:
            return [try ClipKernel.run(try operand(0, "input"), low: optional(1), high: optional(2), context)]
        case .select:
            return [try SelectKernel.run(try operand(0, "condition"), try operand(1, "a"), try operand(2, "b"), context)]
        case .reduce(let function, let axes, let keepDimensions, let noopWithEmptyAxes):
            return [try ReductionKernels.reduce(try operand(0, "input"), function, axes: integers(axes, operand: 1),
                                                keepDimensions: keepDimensions, noopWithEmptyAxes: noopWithEmptyAxes, context)]
        case .argReduce(let function, let axis, let keepDimensions, let selectLastIndex):
            return [try ReductionKernels.argReduce(try operand(0, "input"), function, axis: optional(1)?.integers.first ?? axis,
                                                   keepDimensions: keepDimensions, selectLastIndex: selectLastIndex, context)]
        case .pool(let attributes):
            return [try PoolingKernels.pool(try float(0, "input"), attributes, context)]
        case .globalPool(let kind):
            return [try PoolingKernels.global(try float(0, "input"), kind, context)]
        case .softmax(let axis):
            return [try SoftmaxKernel.run(try operand(0, "input"), axis: axis, logarithm: false, context)]
        case .logSoftmax(let axis):
            return [try SoftmaxKernel.run(try operand(0, "input"), axis: axis, logarithm: true, context)]
        case .scaledDotProductAttention(let scale, let causal):
            return [try AttentionKernel.run(query: try float(0, "query"), key: try float(1, "key"), value: try float(2, "value"),
                                            mask: optional(3), scale: scale, causal: causal, context)]
        case .cast(let type):
            return [try CastKernel.run(try operand(0, "input"), to: type, context)]
        case .identity:
            return [try operand(0, "input")]
        case .reshape(let allowZero):
            return [try ViewKernels.reshape(try operand(0, "input"), shape: try operand(1, "shape").integers, allowZero: allowZero, context)]
        case .transpose(let permutation):
            return [try TransposeKernel.run(try operand(0, "input"), permutation: permutation, context)]
        case .concat(let axis):
            var parts: [Value] = []
            for (index, part) in operands.enumerated() {
                guard let part else { throw context.shapeMismatch("concat operand \(index) is missing") }
                parts.append(part)
            }
            return [try ConcatKernel.run(parts, axis: axis, context)]
        case .split(let axis, let sizes):
            return try SplitKernel.run(try operand(0, "input"), axis: axis, sizes: integers(sizes, operand: 1), parts: outputs, context)
        case .slice:
            return [try SliceKernel.run(try operand(0, "data"), starts: try operand(1, "starts").integers, ends: try operand(2, "ends").integers,
                                        axes: optional(3)?.integers, steps: optional(4)?.integers, context)]
        case .gather(let axis):
            return [try GatherKernels.gather(try operand(0, "data"), indices: try operand(1, "indices"), axis: axis, context)]
        case .gatherElements(let axis):
            return [try GatherKernels.gatherElements(try operand(0, "data"), indices: try operand(1, "indices"), axis: axis, context)]
        case .squeeze(let axes):
            return [try ViewKernels.squeeze(try operand(0, "input"), axes: integers(axes, operand: 1), context)]
        case .unsqueeze(let axes):
            guard let resolved = integers(axes, operand: 1) else { throw context.shapeMismatch("unsqueeze has no axes") }
            return [try ViewKernels.unsqueeze(try operand(0, "input"), axes: resolved, context)]
        case .flatten(let axis):
            return [try ViewKernels.flatten(try operand(0, "input"), axis: axis, context)]
        case .expand:
            return [try RepeatKernels.expand(try operand(0, "input"), shape: try operand(1, "shape").integers, context)]
        case .tile:
            return [try RepeatKernels.tile(try operand(0, "input"), repeats: try operand(1, "repeats").integers, context)]
        case .pad(let mode):
            return [try PadKernel.run(try operand(0, "input"), pads: try operand(1, "pads").integers, value: optional(2), mode: mode, context)]
        case .shape(let start, let end):
            return [ShapeKernels.shape(of: try operand(0, "input"), start: start, end: end, context)]
        case .constantOfShape(let value):
            return [try ShapeKernels.constantOfShape(try operand(0, "shape").integers, value: value, context)]
        case .range:
            return [try ShapeKernels.range(start: try operand(0, "start"), limit: try operand(1, "limit"), delta: try operand(2, "delta"), context)]
        case .topK(let axis, let largest, _):
            guard let k = try operand(1, "k").integers.first else { throw context.shapeMismatch("k is empty") }
            return try TopKKernel.run(try operand(0, "input"), k: k, axis: axis, largest: largest, context)
        case .cumulativeSum(let exclusive, let reverse):
            guard let axis = try operand(1, "axis").integers.first else { throw context.shapeMismatch("the axis is empty") }
            return [try CumulativeSumKernel.run(try operand(0, "input"), axis: axis, exclusive: exclusive, reverse: reverse, context)]
        case .dequantizeLinear(let axis, let blockSize):
            return [try QuantizationKernels.dequantize(try operand(0, "input"), scale: try float(1, "scale"), zeroPoint: optional(2),
                                                       axis: axis, blockSize: blockSize, context)]
        case .quantizeLinear(let axis, let blockSize, let range):
            return [try QuantizationKernels.quantize(try operand(0, "input"), scale: try float(1, "scale"), zeroPoint: optional(2),
                                                     axis: axis, blockSize: blockSize, range: range, context)]
        case .matMulNBits(let k, let n, let bits, let blockSize):
            return [try QuantizationKernels.matMulNBits(try float(0, "a"), packed: try operand(1, "packed weights"), scales: try float(2, "scales"),
                                                        zeroPoints: optional(3), k: k, n: n, bits: bits, blockSize: blockSize, context)]
        }
    }
}
