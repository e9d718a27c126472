import Foundation

/// softmax and log-softmax along one axis, shifted by the maximum so exp never overflows.
enum SoftmaxKernel {
    static func run(_ x: Value, axis: Int, logarithm: Bool, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard x.type == .float32 else { throw context.unsupported("softmax needs a float input") }
        let axis = try context.axis(axis, rank: x.rank)
        let span = x.rank == 0 ? 1 : x.shape[axis]
        let inner = x.rank == 0 ? 1 : x.shape[(axis + 1)...].reduce(1, *)
        let result = context.allocate(.float32, shape: x.shape)
        apply(x.floats, result.floats, rows: x.count / max(span, 1), span: span, inner: inner, logarithm: logarithm, context)
        return result
    }

    /// Over `rows` rows of `span` elements `inner` apart; source and target may be the same.
    static func apply(_ source: UnsafeMutablePointer<Float>, _ target: UnsafeMutablePointer<Float>, rows: Int, span: Int, inner: Int,
                      logarithm: Bool, _ context: KernelContext) {
        context.parallelFor(rows, costPerItem: span * 20) { range in
            for row in range {
                let block = (row / inner) * span * inner + row % inner
                let from = source + block, to = target + block
                var maximum = -Float.infinity
                for i in 0..<span { maximum = Swift.max(maximum, from[i * inner]) }
                if maximum == -.infinity {
                    // Every logit is −∞: the row has no distribution, and numpy and onnxruntime give NaN too.
                    for i in 0..<span { to[i * inner] = .nan }
                    continue
                }
                var sum: Float = 0
                if logarithm {
                    for i in 0..<span { sum += Foundation.exp(from[i * inner] - maximum) }
                    // Shifted by the maximum first: adding log(sum) to a large maximum would round it away.
                    let logSum = Foundation.log(sum)
                    for i in 0..<span { to[i * inner] = (from[i * inner] - maximum) - logSum }
                } else {
                    for i in 0..<span {
                        let e = Foundation.exp(from[i * inner] - maximum)
                        to[i * inner] = e
                        sum += e
                    }
                    let inverse = 1 / sum
                    for i in 0..<span { to[i * inner] *= inverse }
                }
            }
        }
    }
}
