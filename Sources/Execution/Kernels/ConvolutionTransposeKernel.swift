/// Transposed convolution as the adjoint of im2col: GEMM of the weight's transpose with the
/// input gives, per output channel and kernel tap, each input position's contribution, which
/// col2im adds into the output.
enum ConvolutionTransposeKernel {
    static func run(_ x: Value, weight: Value, bias: Value?, _ attributes: ConvolutionTranspose, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.type == .float32, weight.type == .float32 else { throw context.unsupported("transposed convolution operands must be float") }
        let spatialRank = x.rank - 2
        guard spatialRank >= 1, spatialRank <= SpatialGeometry.axes else {
            throw context.unsupported("transposed convolution over \(max(spatialRank, 0)) spatial axes; 1 to 3 are supported")
        }
        let groups = attributes.groups, batch = x.shape[0], channels = x.shape[1]
        guard weight.rank == x.rank, groups >= 1, channels % groups == 0, weight.shape[0] == channels else {
            throw context.shapeMismatch("a weight of \(weight.shape) with \(groups) groups does not fit an input of \(x.shape)")
        }
        let outChannelsPerGroup = weight.shape[1], outChannels = outChannelsPerGroup * groups
        if let bias, bias.count != outChannels { throw context.shapeMismatch("the bias has \(bias.count) values for \(outChannels) output channels") }
        let input = Array(x.shape[2...]), kernel = Array(weight.shape[2...])
        let strides = try SpatialGeometry.perAxis(attributes.strides, spatialRank, "strides", context)
        let dilations = try SpatialGeometry.perAxis(attributes.dilations, spatialRank, "dilations", context)
        let outputPadding = attributes.outputPadding.isEmpty ? [Int](repeating: 0, count: spatialRank) : attributes.outputPadding
        guard outputPadding.count == spatialRank else { throw context.shapeMismatch("\(outputPadding.count) output paddings for \(spatialRank) spatial axes") }
        let span = SpatialGeometry.effectiveKernel(kernel, dilations)
        // The output before any padding is cut from it.
        let full = (0..<spatialRank).map { strides[$0] * (input[$0] - 1) + outputPadding[$0] + span[$0] }
        var output: [Int], padBegin: [Int], padEnd: [Int]
        switch (attributes.outputShape, attributes.padding) {
        case (nil, .explicit(let pads)):
            guard pads.count == 2 * spatialRank else { throw context.shapeMismatch("\(pads.count) pads for \(spatialRank) spatial axes") }
            padBegin = Array(pads[..<spatialRank])
            padEnd = Array(pads[spatialRank...])
            output = (0..<spatialRank).map { full[$0] - padBegin[$0] - padEnd[$0] }
        case (nil, .valid):
            padBegin = [Int](repeating: 0, count: spatialRank)
            padEnd = padBegin
            output = full
        case (let requested, let padding):
            // A given output shape, or SAME: the total padding is what makes the output that
            // size (input · stride for SAME), its odd unit at the end for sameUpper (ONNX's rule).
            output = requested ?? (0..<spatialRank).map { input[$0] * strides[$0] }
            guard output.count == spatialRank else { throw context.shapeMismatch("an output shape of \(output.count) axes for \(spatialRank) spatial axes") }
            let totals = (0..<spatialRank).map { max(0, full[$0] - output[$0]) }
            padBegin = totals.map { padding == .sameUpper ? $0 / 2 : $0 - $0 / 2 }
            padEnd = (0..<spatialRank).map { totals[$0] - padBegin[$0] }
        }
        guard output.allSatisfy({ $0 > 0 }) else { throw context.shapeMismatch("the output shape \(output) is empty") }
        // The geometry of the forward convolution this transposes: its input is our output.
        let g = SpatialGeometry(input: output, output: input, kernel: kernel, strides: strides, dilations: dilations,
                                padBegin: padBegin, padEnd: padEnd)
        let result = context.allocate(.float32, shape: [batch, outChannels] + output)
        let positions = g.inputSize, inputPositions = g.outputSize, kernelSize = g.kernelSize
        let inChannelsPerGroup = channels / groups, rows = outChannelsPerGroup * kernelSize
        let columns = context.scratch(floats: rows * inputPositions).pointer.assumingMemoryBound(to: Float.self)
        for image in 0..<batch {
            for group in 0..<groups {
                GEMM.multiply(m: rows, n: inputPositions, k: inChannelsPerGroup,
                              a: weight.floats + group * inChannelsPerGroup * rows, lda: rows, transposeA: true,
                              b: x.floats + (image * channels + group * inChannelsPerGroup) * inputPositions, ldb: inputPositions, transposeB: false,
                              c: columns, ldc: inputPositions, threads: context.threads)
                let target = result.floats + (image * outChannels + group * outChannelsPerGroup) * positions
                let biases = bias.map { $0.floats + group * outChannelsPerGroup }
                columnsToImage(columns, target, channels: outChannelsPerGroup, biases: biases, g, context)
            }
        }
        return result
    }

    /// Adds each (channel, tap) row of `columns` into the output planes at the positions the
    /// forward convolution would have read; planes start at the bias.
    private static func columnsToImage(_ columns: UnsafeMutablePointer<Float>, _ target: UnsafeMutablePointer<Float>, channels: Int,
                                       biases: UnsafeMutablePointer<Float>?, _ g: SpatialGeometry, _ context: KernelContext) {
        let kernelSize = g.kernelSize, positions = g.inputSize, smallPositions = g.outputSize
        let (outH, outW) = (g.output[1], g.output[2])
        let (inH, inW) = (g.input[1], g.input[2])
        context.parallelFor(channels, costPerItem: kernelSize * smallPositions) { range in
            for channel in range {
                let plane = target + channel * positions
                plane.update(repeating: biases?[channel] ?? 0, count: positions)
                for tap in 0..<kernelSize {
                    let kd = tap / (g.kernel[1] * g.kernel[2]), kh = (tap / g.kernel[2]) % g.kernel[1], kw = tap % g.kernel[2]
                    let row = columns + (channel * kernelSize + tap) * smallPositions
                    let validD = g.validOutputs(axis: 0, offset: kd * g.dilations[0])
                    let validH = g.validOutputs(axis: 1, offset: kh * g.dilations[1])
                    let validW = g.validOutputs(axis: 2, offset: kw * g.dilations[2])
                    let strideW = g.strides[2], shiftW = kw * g.dilations[2] - g.padBegin[2]
                    for od in validD {
                        let id = od * g.strides[0] - g.padBegin[0] + kd * g.dilations[0]
                        for oh in validH {
                            let ih = oh * g.strides[1] - g.padBegin[1] + kh * g.dilations[1]
                            let source = row + (od * outH + oh) * outW
                            let line = plane + (id * inH + ih) * inW + shiftW
                            for ow in validW { line[ow * strideW] += source[ow] }
                        }
                    }
                }
            }
        }
    }
}
