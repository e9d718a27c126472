/// ONNX Slice: per listed axis a start, an end (clamped to the axis) and a step, any sign.
enum SliceKernel {
    static func run(_ x: Value, starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?, _ context: KernelContext) throws(ExecutionError) -> Value {
        let axes = try context.axes(axes ?? Array(0..<starts.count), rank: x.rank)
        let steps = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw context.shapeMismatch("starts, ends, axes and steps must have one value per sliced axis")
        }
        var elementStrides = [Int](repeating: 1, count: x.rank)
        for axis in stride(from: x.rank - 2, through: 0, by: -1) { elementStrides[axis] = elementStrides[axis + 1] * x.shape[axis + 1] }
        var shape = x.shape, strides = elementStrides, offset = 0
        for (index, axis) in axes.enumerated() {
            let size = x.shape[axis], step = steps[index]
            guard step != 0 else { throw context.shapeMismatch("a slice step of 0 on axis \(axis)") }
            var start = starts[index], end = ends[index]
            if start < 0 { start += size }
            if end < 0 { end += size }
            let count: Int
            if step > 0 {
                start = min(max(start, 0), size)
                end = min(max(end, 0), size)
                count = end > start ? (end - start + step - 1) / step : 0
            } else {
                start = min(max(start, 0), size - 1)
                end = min(max(end, -1), size - 1)
                count = start > end ? (start - end - step - 1) / -step : 0
            }
            shape[axis] = count
            strides[axis] = elementStrides[axis] * step
            if count > 0 { offset += start * elementStrides[axis] }
        }
        let result = context.allocate(x.type, shape: shape)
        StridedWalk(result: shape, strides: [strides]).copy(x, offset: offset, to: result, context)
        return result
    }
}
