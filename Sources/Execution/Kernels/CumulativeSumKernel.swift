/// Running sums along an axis, inclusive or exclusive, forwards or backwards (ONNX CumSum).
enum CumulativeSumKernel {
    static func run(_ x: Value, axis: Int, exclusive: Bool, reverse: Bool, _ context: KernelContext) throws(ExecutionError) -> Value {
        let axis = try context.axis(axis, rank: x.rank)
        let span = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        let result = context.allocate(x.type, shape: x.shape)
        func scan<T: AdditiveArithmetic>(_ source: UnsafeMutablePointer<T>, _ target: UnsafeMutablePointer<T>) {
            for row in 0..<(span == 0 ? 0 : x.count / span) {
                let base = (row / inner) * span * inner + row % inner
                var total = T.zero
                for step in 0..<span {
                    let offset = base + (reverse ? span - 1 - step : step) * inner
                    if exclusive {
                        target[offset] = total
                        total += source[offset]
                    } else {
                        total += source[offset]
                        target[offset] = total
                    }
                }
            }
        }
        switch x.type {
        case .float32: scan(x.floats, result.floats)
        case .int64: scan(x.int64s, result.int64s)
        case .bool: throw context.unsupported("a cumulative sum of bool values")
        }
        return result
    }
}
