/// N-d convolution (1-d to 3-d): a direct loop for depthwise, a plain GEMM for 1×1 stride-1
/// unpadded kernels, im2col + GEMM for everything else (groups, strides, dilations, padding).
enum ConvolutionKernel {
    static func run(_ x: Value, weight: Value, bias: Value?, _ attributes: Convolution, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.type == .float32, weight.type == .float32 else { throw context.unsupported("convolution operands must be float") }
        let spatialRank = x.rank - 2
        guard spatialRank >= 1, spatialRank <= SpatialGeometry.axes else {
            throw context.unsupported("convolution over \(max(spatialRank, 0)) spatial axes; 1 to 3 are supported")
        }
        guard weight.rank == x.rank else { throw context.shapeMismatch("a weight of \(weight.shape) for an input of \(x.shape)") }
        let batch = x.shape[0], channels = x.shape[1], outChannels = weight.shape[0], groups = attributes.groups
        guard groups >= 1, channels % groups == 0, outChannels % groups == 0, weight.shape[1] == channels / groups else {
            throw context.shapeMismatch("a weight of \(weight.shape) with \(groups) groups does not fit \(channels) input channels")
        }
        if let bias, bias.count != outChannels {
            throw context.shapeMismatch("the bias has \(bias.count) values for \(outChannels) output channels")
        }
        let inputSpatial = Array(x.shape[2...]), kernel = Array(weight.shape[2...])
        let strides = try SpatialGeometry.perAxis(attributes.strides, spatialRank, "strides", context)
        let dilations = try SpatialGeometry.perAxis(attributes.dilations, spatialRank, "dilations", context)
        let (padBegin, padEnd) = try SpatialGeometry.pads(attributes.padding, input: inputSpatial, kernel: kernel,
                                                          strides: strides, dilations: dilations, context)
        let span = SpatialGeometry.effectiveKernel(kernel, dilations)
        var outputSpatial: [Int] = []
        for axis in 0..<spatialRank {
            let padded = inputSpatial[axis] + padBegin[axis] + padEnd[axis]
            guard padded >= span[axis] else {
                throw context.shapeMismatch("a kernel spanning \(span[axis]) is larger than the padded input's \(padded) on spatial axis \(axis)")
            }
            outputSpatial.append((padded - span[axis]) / strides[axis] + 1)
        }
        let geometry = SpatialGeometry(input: inputSpatial, output: outputSpatial, kernel: kernel, strides: strides,
                                       dilations: dilations, padBegin: padBegin, padEnd: padEnd)
        let result = context.allocate(.float32, shape: [batch, outChannels] + outputSpatial)
        let inChannelsPerGroup = channels / groups, outChannelsPerGroup = outChannels / groups
        let positions = geometry.outputSize, kernelSize = geometry.kernelSize
        if let bias {
            for plane in 0..<(batch * outChannels) {
                (result.floats + plane * positions).update(repeating: bias.floats[plane % outChannels], count: positions)
            }
        }
        let accumulate: Float = bias == nil ? 0 : 1

        if groups == channels, outChannels == channels {
            depthwise(x.floats, weight.floats, result.floats, planes: batch * channels, channels: channels, geometry, accumulate: bias != nil, context)
            return result
        }
        let pointwise = kernelSize == 1 && geometry.strides.allSatisfy { $0 == 1 }
            && geometry.padBegin.allSatisfy { $0 == 0 } && geometry.padEnd.allSatisfy { $0 == 0 }
        let rows = inChannelsPerGroup * kernelSize
        let columns = pointwise ? nil : context.scratch(floats: rows * positions)
        for image in 0..<batch {
            for group in 0..<groups {
                let input = x.floats + (image * channels + group * inChannelsPerGroup) * geometry.inputSize
                let output = result.floats + (image * outChannels + group * outChannelsPerGroup) * positions
                var matrix = UnsafePointer(input)
                if let columns {
                    let target = columns.pointer.assumingMemoryBound(to: Float.self)
                    imageToColumns(input, target, channels: inChannelsPerGroup, geometry, context)
                    matrix = UnsafePointer(target)
                }
                GEMM.multiply(m: outChannelsPerGroup, n: positions, k: rows,
                              a: weight.floats + group * outChannelsPerGroup * rows, lda: rows, transposeA: false,
                              b: matrix, ldb: positions, transposeB: false,
                              c: output, ldc: positions, beta: accumulate)
            }
        }
        return result
    }

    /// Unfolds `channels` input planes into rows (channel, kernel position) × output positions,
    /// zeros where the window reads padding.
    static func imageToColumns(_ input: UnsafePointer<Float>, _ columns: UnsafeMutablePointer<Float>, channels: Int,
                               _ g: SpatialGeometry, _ context: KernelContext) {
        let kernelSize = g.kernelSize, positions = g.outputSize
        let (outD, outH, outW) = (g.output[0], g.output[1], g.output[2])
        let (inD, inH, inW) = (g.input[0], g.input[1], g.input[2])
        context.parallelFor(channels * kernelSize, costPerItem: positions) { rows in
            for row in rows {
                let channel = row / kernelSize, tap = row % kernelSize
                let kd = tap / (g.kernel[1] * g.kernel[2]), kh = (tap / g.kernel[2]) % g.kernel[1], kw = tap % g.kernel[2]
                let plane = input + channel * inD * inH * inW
                let target = columns + row * positions
                let validD = g.validOutputs(axis: 0, offset: kd * g.dilations[0])
                let validH = g.validOutputs(axis: 1, offset: kh * g.dilations[1])
                let validW = g.validOutputs(axis: 2, offset: kw * g.dilations[2])
                let strideW = g.strides[2], shiftW = kw * g.dilations[2] - g.padBegin[2]
                for od in 0..<outD {
                    for oh in 0..<outH {
                        let line = target + (od * outH + oh) * outW
                        guard validD.contains(od), validH.contains(oh) else {
                            line.update(repeating: 0, count: outW)
                            continue
                        }
                        let id = od * g.strides[0] - g.padBegin[0] + kd * g.dilations[0]
                        let ih = oh * g.strides[1] - g.padBegin[1] + kh * g.dilations[1]
                        let source = plane + (id * inH + ih) * inW
                        for ow in 0..<validW.lowerBound { line[ow] = 0 }
                        if strideW == 1 {
                            (line + validW.lowerBound).update(from: source + validW.lowerBound + shiftW, count: validW.count)
                        } else {
                            for ow in validW { line[ow] = source[ow * strideW + shiftW] }
                        }
                        for ow in validW.upperBound..<outW { line[ow] = 0 }
                    }
                }
            }
        }
    }

    /// One filter per channel: each output plane reads only its own input plane.
    private static func depthwise(_ input: UnsafeMutablePointer<Float>, _ weight: UnsafeMutablePointer<Float>,
                                  _ output: UnsafeMutablePointer<Float>, planes: Int, channels: Int,
                                  _ g: SpatialGeometry, accumulate: Bool, _ context: KernelContext) {
        let kernelSize = g.kernelSize, positions = g.outputSize, inputSize = g.inputSize
        let (outH, outW) = (g.output[1], g.output[2])
        let (inH, inW) = (g.input[1], g.input[2])
        context.parallelFor(planes, costPerItem: positions * kernelSize) { range in
            for plane in range {
                let source = input + plane * inputSize, target = output + plane * positions
                let filter = weight + (plane % channels) * kernelSize
                if !accumulate { target.update(repeating: 0, count: positions) }
                for kd in 0..<g.kernel[0] {
                    let validD = g.validOutputs(axis: 0, offset: kd * g.dilations[0])
                    for kh in 0..<g.kernel[1] {
                        let validH = g.validOutputs(axis: 1, offset: kh * g.dilations[1])
                        for kw in 0..<g.kernel[2] {
                            let validW = g.validOutputs(axis: 2, offset: kw * g.dilations[2])
                            let tap = filter[(kd * g.kernel[1] + kh) * g.kernel[2] + kw]
                            let strideW = g.strides[2], shiftW = kw * g.dilations[2] - g.padBegin[2]
                            for od in validD {
                                let id = od * g.strides[0] - g.padBegin[0] + kd * g.dilations[0]
                                for oh in validH {
                                    let ih = oh * g.strides[1] - g.padBegin[1] + kh * g.dilations[1]
                                    let line = target + (od * outH + oh) * outW
                                    let row = source + (id * inH + ih) * inW + shiftW
                                    if strideW == 1 {
                                        for ow in validW { line[ow] += tap * row[ow] }
                                    } else {
                                        for ow in validW { line[ow] += tap * row[ow * strideW] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
