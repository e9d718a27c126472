/// Axis permutation; nil reverses the axes.
enum TransposeKernel {
    static func run(_ x: Value, permutation: [Int]?, _ context: KernelContext) throws(ExecutionError) -> Value {
        let permutation = try permutation.map { (axes: [Int]) throws(ExecutionError) -> [Int] in
            try context.axes(axes, rank: x.rank)
        } ?? Array((0..<x.rank).reversed())
        guard permutation.count == x.rank else {
            throw context.shapeMismatch("a permutation of \(permutation.count) axes for an input of rank \(x.rank)")
        }
        return permute(x, permutation, context)
    }

    static func permute(_ x: Value, _ permutation: [Int], _ context: KernelContext) -> Value {
        if permutation == Array(0..<x.rank) { return x }
        var strides = [Int](repeating: 1, count: x.rank)
        for axis in stride(from: x.rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * x.shape[axis + 1] }
        let shape = permutation.map { x.shape[$0] }
        let result = context.allocate(x.type, shape: shape)
        StridedWalk(result: shape, strides: [permutation.map { strides[$0] }]).copy(x, to: result, context)
        return result
    }
}
