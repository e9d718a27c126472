/// Expand (numpy broadcast to a shape) and Tile (whole copies along each axis): both read the
/// operand with a zero stride along the repeated axes.
enum RepeatKernels {
    static func expand(_ x: Value, shape requested: [Int], _ context: KernelContext) throws(ExecutionError) -> Value {
        guard let shape = StridedWalk.resultShape([x.shape, requested]) else {
            throw context.shapeMismatch("\(x.shape) does not broadcast to \(requested)")
        }
        if shape == x.shape { return x }
        let result = context.allocate(x.type, shape: shape)
        StridedWalk(result: shape, operands: [x.shape]).copy(x, to: result, context)
        return result
    }

    static func tile(_ x: Value, repeats: [Int], _ context: KernelContext) throws(ExecutionError) -> Value {
        guard repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw context.shapeMismatch("repeats \(repeats) for an input of rank \(x.rank)")
        }
        var strides = [Int](repeating: 1, count: x.rank)
        for axis in stride(from: x.rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * x.shape[axis + 1] }
        // Read as [repeats₀, size₀, repeats₁, size₁, …], which is the tiled result in row-major order.
        var viewShape: [Int] = [], viewStrides: [Int] = []
        for axis in 0..<x.rank {
            viewShape += [repeats[axis], x.shape[axis]]
            viewStrides += [0, strides[axis]]
        }
        let result = context.allocate(x.type, shape: zip(x.shape, repeats).map(*))
        StridedWalk(result: viewShape, strides: [viewStrides]).copy(x, to: result, context)
        return result
    }
}
