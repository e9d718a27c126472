/// The k largest (or smallest) elements along an axis and their indices; equal values keep
/// the lower index first, as onnxruntime orders them.
enum TopKKernel {
    static func run(_ x: Value, k: Int, axis: Int, largest: Bool, _ context: KernelContext) throws(ExecutionError) -> [Value] {
        guard x.type == .float32 || x.type == .int64 else { throw context.unsupported("top-k of \(x.type) values") }
        let axis = try context.axis(axis, rank: x.rank)
        let span = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        guard k >= 0, k <= span else { throw context.shapeMismatch("k = \(k) for an axis of \(span)") }
        var shape = x.shape
        shape[axis] = k
        let values = context.allocate(x.type, shape: shape), indices = context.allocate(.int64, shape: shape)
        let rows = span == 0 ? 0 : x.count / span
        var order = [Int](repeating: 0, count: span)
        for row in 0..<rows {
            let base = (row / inner) * span * inner + row % inner
            let outBase = (row / inner) * k * inner + row % inner
            func key(_ i: Int) -> Float { x.type == .float32 ? x.floats[base + i * inner] : Float(x.int64s[base + i * inner]) }
            for i in 0..<span { order[i] = i }
            order.sort { a, b in
                let (ka, kb) = (key(a), key(b))
                return ka == kb ? a < b : (largest ? ka > kb : ka < kb)
            }
            for i in 0..<k {
                let source = base + order[i] * inner, target = outBase + i * inner
                if x.type == .float32 { values.floats[target] = x.floats[source] } else { values.int64s[target] = x.int64s[source] }
                indices.int64s[target] = Int64(order[i])
            }
        }
        return [values, indices]
    }
}
