/// Max and average pooling over 1 to 3 spatial axes, and their global forms.
enum PoolingKernels {
    static func pool(_ x: Value, _ attributes: Pooling, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.type == .float32 else { throw context.unsupported("pooling needs a float input") }
        let spatialRank = x.rank - 2
        guard spatialRank >= 1, spatialRank <= SpatialGeometry.axes, attributes.kernel.count == spatialRank else {
            throw context.unsupported("pooling a \(x.shape) input with a kernel of \(attributes.kernel.count) axes; 1 to 3 spatial axes are supported")
        }
        let input = Array(x.shape[2...])
        let strides = try SpatialGeometry.perAxis(attributes.strides, spatialRank, "strides", context)
        let dilations = try SpatialGeometry.perAxis(attributes.dilations, spatialRank, "dilations", context)
        let (padBegin, padEnd) = try SpatialGeometry.pads(attributes.padding, input: input, kernel: attributes.kernel,
                                                          strides: strides, dilations: dilations, context)
        let span = SpatialGeometry.effectiveKernel(attributes.kernel, dilations)
        var output: [Int] = []
        for axis in 0..<spatialRank {
            let room = input[axis] + padBegin[axis] + padEnd[axis] - span[axis]
            guard room >= 0 else { throw context.shapeMismatch("a window spanning \(span[axis]) is larger than the padded input on spatial axis \(axis)") }
            var size = (attributes.ceilMode ? (room + strides[axis] - 1) / strides[axis] : room / strides[axis]) + 1
            // A ceil-mode window must start inside the input or its leading padding.
            if attributes.ceilMode, (size - 1) * strides[axis] >= input[axis] + padBegin[axis] { size -= 1 }
            output.append(size)
        }
        let g = SpatialGeometry(input: input, output: output, kernel: attributes.kernel, strides: strides, dilations: dilations,
                                padBegin: padBegin, padEnd: padEnd)
        let result = context.allocate(.float32, shape: Array(x.shape[..<2]) + output)
        let (source, target) = (x.floats, result.floats)
        let isMax = attributes.kind == .max, includePadding = attributes.countIncludesPadding
        let planes = x.shape[0] * x.shape[1]
        context.parallelFor(planes, costPerItem: g.outputSize * g.kernelSize) { range in
            for plane in range {
                let from = source + plane * g.inputSize, to = target + plane * g.outputSize
                var position = 0
                for od in 0..<g.output[0] { for oh in 0..<g.output[1] { for ow in 0..<g.output[2] {
                    let start = (od * g.strides[0] - g.padBegin[0], oh * g.strides[1] - g.padBegin[1], ow * g.strides[2] - g.padBegin[2])
                    var accumulator: Float = isMax ? -.infinity : 0
                    var counted = 0
                    for kd in 0..<g.kernel[0] {
                        let id = start.0 + kd * g.dilations[0]
                        guard id >= 0, id < g.input[0] else { continue }
                        for kh in 0..<g.kernel[1] {
                            let ih = start.1 + kh * g.dilations[1]
                            guard ih >= 0, ih < g.input[1] else { continue }
                            let row = from + (id * g.input[1] + ih) * g.input[2]
                            for kw in 0..<g.kernel[2] {
                                let iw = start.2 + kw * g.dilations[2]
                                guard iw >= 0, iw < g.input[2] else { continue }
                                if isMax { accumulator = Swift.max(accumulator, row[iw]) } else { accumulator += row[iw] }
                                counted += 1
                            }
                        }
                    }
                    if !isMax {
                        // Counting padding means the window clipped to the padded input (not to the
                        // ceil-mode overhang past it), as onnxruntime and PyTorch divide.
                        var divisor = counted
                        if includePadding {
                            divisor = g.paddedTaps(axis: 0, start: start.0) * g.paddedTaps(axis: 1, start: start.1) * g.paddedTaps(axis: 2, start: start.2)
                        }
                        accumulator = divisor > 0 ? accumulator / Float(divisor) : 0
                    }
                    to[position] = accumulator
                    position += 1
                } } }
            }
        }
        return result
    }

    static func global(_ x: Value, _ kind: PoolKind, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.type == .float32, x.rank >= 2 else { throw context.unsupported("global pooling needs a float input with channels on axis 1") }
        let inner = x.shape[2...].reduce(1, *)
        let result = context.allocate(.float32, shape: Array(x.shape[..<2]) + [Int](repeating: 1, count: x.rank - 2))
        let (source, target) = (x.floats, result.floats)
        context.parallelFor(x.shape[0] * x.shape[1], costPerItem: inner) { planes in
            for plane in planes {
                let row = source + plane * inner
                if kind == .max {
                    var maximum = -Float.infinity
                    for i in 0..<inner { maximum = Swift.max(maximum, row[i]) }
                    target[plane] = maximum
                } else {
                    var sum: Float = 0
                    for i in 0..<inner { sum += row[i] }
                    target[plane] = sum / Float(max(inner, 1))
                }
            }
        }
        return result
    }
}
