/// condition ? a : b, the three operands broadcast together.
enum SelectKernel {
    static func run(_ condition: Value, _ a: Value, _ b: Value, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard condition.type == .bool else { throw context.unsupported("the condition must be bool, not \(condition.type)") }
        guard a.type == b.type else { throw context.unsupported("the branches are \(a.type) and \(b.type); they must match") }
        guard let shape = StridedWalk.resultShape([condition.shape, a.shape, b.shape]) else {
            throw context.shapeMismatch("shapes \(condition.shape), \(a.shape) and \(b.shape) do not broadcast")
        }
        let walk = StridedWalk(result: shape, operands: [condition.shape, a.shape, b.shape])
        let result = context.allocate(a.type, shape: shape)
        switch a.type {
        case .float32: select(walk, condition.bools, a.floats, b.floats, result.floats, context)
        case .int64: select(walk, condition.bools, a.int64s, b.int64s, result.int64s, context)
        case .bool: select(walk, condition.bools, a.bools, b.bools, result.bools, context)
        }
        return result
    }

    private static func select<T>(_ walk: StridedWalk, _ condition: UnsafeMutablePointer<Bool>, _ a: UnsafeMutablePointer<T>,
                                  _ b: UnsafeMutablePointer<T>, _ out: UnsafeMutablePointer<T>, _ context: KernelContext) {
        let stepC = walk.innerStep(0), stepA = walk.innerStep(1), stepB = walk.innerStep(2)
        context.parallelFor(walk.count, costPerItem: 2) { range in
            walk.forEachRun(in: range) { start, offsets, length in
                let c = condition + offsets[0], x = a + offsets[1], y = b + offsets[2], o = out + start
                for i in 0..<length { o[i] = c[i * stepC] ? x[i * stepA] : y[i * stepB] }
            }
        }
    }
}
