/// softmax(q·kᵀ·scale + mask)·v over the last two axes, on the matmul and softmax kernels.
enum AttentionKernel {
    static func run(query: Value, key: Value, value: Value, mask: Value?, scale: Float?, causal: Bool,
                    _ context: KernelContext) throws(ExecutionError) -> Value {
        guard query.rank >= 2, key.rank >= 2, value.rank >= 2 else {
            throw context.shapeMismatch("attention needs query, key and value of rank 2 or more")
        }
        let headSize = query.shape[query.rank - 1]
        let scores = try MatMulKernel.matMul(query, key, transposeA: false, transposeB: true, context)
        let (queries, keys) = (scores.shape[scores.rank - 2], scores.shape[scores.rank - 1])
        let factor = scale ?? 1 / Float(headSize).squareRoot()
        let logits = scores.floats
        for i in 0..<scores.count { logits[i] *= factor }
        if let mask {
            guard let shape = StridedWalk.resultShape([scores.shape, mask.shape]), shape == scores.shape else {
                throw context.shapeMismatch("a mask of \(mask.shape) does not broadcast to the scores' \(scores.shape)")
            }
            let walk = StridedWalk(result: scores.shape, operands: [mask.shape])
            let step = walk.innerStep(0)
            switch mask.type {
            case .bool:
                let keep = mask.bools
                walk.forEachRun(in: 0..<walk.count) { start, offsets, length in
                    for i in 0..<length where !keep[offsets[0] + i * step] { logits[start + i] = -.infinity }
                }
            case .float32:
                let bias = mask.floats
                walk.forEachRun(in: 0..<walk.count) { start, offsets, length in
                    for i in 0..<length { logits[start + i] += bias[offsets[0] + i * step] }
                }
            case .int64:
                throw context.unsupported("an int64 attention mask; it must be bool or float")
            }
        }
        if causal {
            // Query i attends to keys 0…i (the upper-left triangle, as PyTorch's is_causal).
            for matrix in 0..<(scores.count / max(queries * keys, 1)) {
                for row in 0..<queries {
                    let line = logits + (matrix * queries + row) * keys
                    for column in (row + 1)..<max(row + 1, keys) { line[column] = -.infinity }
                }
            }
        }
        SoftmaxKernel.apply(logits, logits, rows: scores.count / max(keys, 1), span: keys, inner: 1, logarithm: false, context)
        return try MatMulKernel.matMul(scores, value, transposeA: false, transposeB: false, context)
    }
}
