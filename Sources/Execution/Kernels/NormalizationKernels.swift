/// Batch, layer, instance and group normalization.
enum NormalizationKernels {
    /// Inference batch norm: scale·(x − mean)/√(variance + ε) + bias per channel on axis 1.
    static func batch(_ x: Value, scale: Value, bias: Value, mean: Value, variance: Value, epsilon: Float,
                      _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.rank >= 2 else { throw context.shapeMismatch("batch normalization needs channels on axis 1; the input is \(x.shape)") }
        let channels = x.shape[1]
        for (name, operand) in [("scale", scale), ("bias", bias), ("mean", mean), ("variance", variance)] where operand.count != channels {
            throw context.shapeMismatch("the \(name) has \(operand.count) values for \(channels) channels")
        }
        let (multiplier, offset) = batchCoefficients(scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon)
        return perChannel(x, multiplier: multiplier, offset: offset, context)
    }

    /// Inference batch norm as y = multiplier[c]·x + offset[c]; operands of one value per channel.
    static func batchCoefficients(scale: Value, bias: Value, mean: Value, variance: Value, epsilon: Float) -> (multiplier: [Float], offset: [Float]) {
        var multiplier = [Float](repeating: 0, count: scale.count), offset = multiplier
        for c in 0..<scale.count {
            multiplier[c] = scale.floats[c] / (variance.floats[c] + epsilon).squareRoot()
            offset[c] = bias.floats[c] - mean.floats[c] * multiplier[c]
        }
        return (multiplier, offset)
    }

    /// y = multiplier[c]·x + offset[c] with channels on axis 1.
    private static func perChannel(_ x: Value, multiplier: [Float], offset: [Float], _ context: KernelContext) -> Value {
        let channels = x.shape[1], inner = x.shape[2...].reduce(1, *)
        let result = context.allocate(.float32, shape: x.shape)
        let (source, target) = (x.floats, result.floats)
        context.parallelFor(x.count / max(inner, 1), costPerItem: inner) { planes in
            for plane in planes {
                let m = multiplier[plane % channels], b = offset[plane % channels]
                let from = source + plane * inner, to = target + plane * inner
                for i in 0..<inner { to[i] = from[i] * m + b }
            }
        }
        return result
    }

    /// Normalizes over `axes`, which must be one contiguous run of axes; scale and bias have
    /// those axes' shape and are broadcast over the axes after them.
    static func layer(_ x: Value, scale: Value?, bias: Value?, axes: [Int], epsilon: Float, _ context: KernelContext) throws(ExecutionError) -> Value {
        let resolved = try context.axes(axes, rank: x.rank).sorted()
        guard let first = resolved.first, let last = resolved.last, last - first + 1 == resolved.count else {
            throw context.unsupported("layer normalization over axes \(axes) that are not one contiguous run")
        }
        let outer = x.shape[..<first].reduce(1, *), span = x.shape[first...last].reduce(1, *)
        let inner = x.shape[(last + 1)...].reduce(1, *)
        for operand in [scale, bias].compactMap({ $0 }) where operand.count != span {
            throw context.shapeMismatch("scale and bias need \(span) values (the normalized axes' size), not \(operand.count)")
        }
        return normalize(x, outer: outer, span: span, inner: inner, epsilon: epsilon, context) { index in
            (scale.map { $0.floats[index / inner] } ?? 1, bias.map { $0.floats[index / inner] } ?? 0)
        }
    }

    /// Each channel of each image over its spatial positions.
    static func instance(_ x: Value, scale: Value?, bias: Value?, epsilon: Float, _ context: KernelContext) throws(ExecutionError) -> Value {
        try grouped(x, scale: scale, bias: bias, groups: x.rank >= 2 ? x.shape[1] : 1, epsilon: epsilon, context)
    }

    /// `groups` groups of channels of each image, each over its channels and spatial positions;
    /// then scale and bias per channel.
    static func grouped(_ x: Value, scale: Value?, bias: Value?, groups: Int, epsilon: Float, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.rank >= 2 else { throw context.shapeMismatch("normalization needs channels on axis 1; the input is \(x.shape)") }
        let channels = x.shape[1], spatial = x.shape[2...].reduce(1, *)
        guard groups >= 1, channels % groups == 0 else { throw context.shapeMismatch("\(channels) channels do not split into \(groups) groups") }
        for operand in [scale, bias].compactMap({ $0 }) where operand.count != channels {
            throw context.shapeMismatch("scale and bias need one value per channel (\(channels)), not \(operand.count)")
        }
        return normalize(x, outer: x.shape[0] * groups, span: channels / groups * spatial, inner: 1, epsilon: epsilon, context) { _ in (1, 0) }
            .applyingPerChannel(scale: scale, bias: bias, context)
    }

    /// Mean and variance over `span` elements `inner` apart, for each of `outer · inner` rows;
    /// `affine(index within the span · inner)` gives the scale and bias of an element.
    private static func normalize(_ x: Value, outer: Int, span: Int, inner: Int, epsilon: Float, _ context: KernelContext,
                                  _ affine: (Int) -> (Float, Float)) -> Value {
        let result = context.allocate(.float32, shape: x.shape)
        let (source, target) = (x.floats, result.floats)
        context.parallelFor(outer * inner, costPerItem: span * 3) { rows in
            for row in rows {
                let block = (row / inner) * span * inner, column = row % inner
                let from = source + block + column, to = target + block + column
                var sum: Double = 0
                for i in 0..<span { sum += Double(from[i * inner]) }
                let mean = Float(sum / Double(max(span, 1)))
                var squares: Double = 0
                for i in 0..<span { let d = from[i * inner] - mean; squares += Double(d * d) }
                let inverse = 1 / (Float(squares / Double(max(span, 1))) + epsilon).squareRoot()
                for i in 0..<span {
                    let (scale, bias) = affine(i * inner + column)
                    to[i * inner] = (from[i * inner] - mean) * inverse * scale + bias
                }
            }
        }
        return result
    }
}

private extension Value {
    /// Multiplies by scale and adds bias per channel (axis 1), in place: the value is new.
    func applyingPerChannel(scale: Value?, bias: Value?, _ context: KernelContext) -> Value {
        guard scale != nil || bias != nil else { return self }
        let channels = shape[1], inner = shape[2...].reduce(1, *)
        let target = floats
        context.parallelFor(count / max(inner, 1), costPerItem: inner) { planes in
            for plane in planes {
                let c = plane % channels
                let m = scale?.floats[c] ?? 1, b = bias?.floats[c] ?? 0
                let row = target + plane * inner
                for i in 0..<inner { row[i] = row[i] * m + b }
            }
        }
        return self
    }
}
