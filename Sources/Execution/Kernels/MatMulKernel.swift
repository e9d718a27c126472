/// numpy matmul (batched, batch axes broadcast, rank-1 operands promoted) with MIL's transposes,
/// ONNX Gemm and MIL linear, all on one GEMM.
enum MatMulKernel {
    static func matMul(_ a: Value, _ b: Value, transposeA: Bool, transposeB: Bool, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard a.type == .float32, b.type == .float32 else { throw context.unsupported("matmul operands must be float") }
        guard a.rank >= 1, b.rank >= 1 else { throw context.shapeMismatch("matmul operands must have rank 1 or more") }
        // Rank-1 operands are promoted to matrices and the added axis removed after (numpy);
        // MIL's transpose flags act on the last two axes and so not on a rank-1 operand.
        let aShape = a.rank == 1 ? [1, a.shape[0]] : a.shape
        let bShape = b.rank == 1 ? [b.shape[0], 1] : b.shape
        let flipA = a.rank > 1 && transposeA, flipB = b.rank > 1 && transposeB
        let m = flipA ? aShape[aShape.count - 1] : aShape[aShape.count - 2]
        let k = flipA ? aShape[aShape.count - 2] : aShape[aShape.count - 1]
        let kB = flipB ? bShape[bShape.count - 1] : bShape[bShape.count - 2]
        let n = flipB ? bShape[bShape.count - 2] : bShape[bShape.count - 1]
        guard k == kB else { throw context.shapeMismatch("matmul of \(a.shape) by \(b.shape): inner dimensions \(k) and \(kB) differ") }
        let batchA = Array(aShape.dropLast(2)), batchB = Array(bShape.dropLast(2))
        guard let batch = StridedWalk.resultShape([batchA, batchB]) else {
            throw context.shapeMismatch("matmul batch axes of \(a.shape) and \(b.shape) do not broadcast")
        }
        var shape = batch + [m, n]
        if b.rank == 1 { shape.removeLast() }
        if a.rank == 1 { shape.remove(at: shape.count - (b.rank == 1 ? 1 : 2)) }
        let result = context.allocate(.float32, shape: shape)
        let lda = aShape[aShape.count - 1], ldb = bShape[bShape.count - 1]
        let batchCount = batch.reduce(1, *)
        if batchB.reduce(1, *) == 1, !flipA {
            // Every batch multiplies the same matrix: one GEMM with the batches stacked as rows.
            GEMM.multiply(m: m * batchCount, n: n, k: k, a: a.floats, lda: lda, transposeA: false,
                          b: b.floats, ldb: ldb, transposeB: flipB, c: result.floats, ldc: n, threads: context.threads)
            return result
        }
        let walk = StridedWalk(result: batch.isEmpty ? [1] : batch, operands: [batchA, batchB])
        var offsets: [(Int, Int)] = []
        offsets.reserveCapacity(batchCount)
        walk.forEachRun(in: 0..<batchCount) { _, start, length in
            for i in 0..<length {
                offsets.append((start[0] + i * walk.innerStep(0), start[1] + i * walk.innerStep(1)))
            }
        }
        let aMatrix = m * k, bMatrix = k * n
        let (aBase, bBase, out) = (a.floats, b.floats, result.floats)
        // Small products go one per core; a large one is split over the cores by GEMM itself.
        let small = m * n * k < GEMM.smallProduct
        let multiplyOne = { (index: Int) in
            GEMM.multiply(m: m, n: n, k: k, a: aBase + offsets[index].0 * aMatrix, lda: lda, transposeA: flipA,
                          b: bBase + offsets[index].1 * bMatrix, ldb: ldb, transposeB: flipB,
                          c: out + index * m * n, ldc: n, threads: small ? 1 : context.threads)
        }
        if small {
            context.parallelFor(batchCount, costPerItem: m * n * k) { range in range.forEach(multiplyOne) }
        } else {
            (0..<batchCount).forEach(multiplyOne)
        }
        return result
    }

    /// alpha·op(a)·op(b) + beta·c with c broadcast to the [M, N] result.
    static func gemm(_ a: Value, _ b: Value, _ c: Value?, transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float,
                     _ context: KernelContext) throws(ExecutionError) -> Value {
        guard a.rank == 2, b.rank == 2 else { throw context.shapeMismatch("gemm operands must be matrices, not \(a.shape) and \(b.shape)") }
        let m = transposeA ? a.shape[1] : a.shape[0], k = transposeA ? a.shape[0] : a.shape[1]
        let kB = transposeB ? b.shape[1] : b.shape[0], n = transposeB ? b.shape[0] : b.shape[1]
        guard k == kB else { throw context.shapeMismatch("gemm of \(a.shape) by \(b.shape): inner dimensions \(k) and \(kB) differ") }
        let result = context.allocate(.float32, shape: [m, n])
        var accumulate: Float = 0
        if let c, beta != 0 {
            try fill(result, broadcasting: c, context)
            accumulate = beta
        }
        GEMM.multiply(m: m, n: n, k: k, a: a.floats, lda: a.shape[1], transposeA: transposeA,
                      b: b.floats, ldb: b.shape[1], transposeB: transposeB, c: result.floats, ldc: n,
                      alpha: alpha, beta: accumulate, threads: context.threads)
        return result
    }

    /// x·weightᵀ + bias over x's last axis.
    static func linear(_ x: Value, weight: Value, bias: Value?, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard weight.rank == 2, let inFeatures = x.shape.last, inFeatures == weight.shape[1] else {
            throw context.shapeMismatch("linear of \(x.shape) by a weight of \(weight.shape): the weight must be [out, \(x.shape.last ?? 0)]")
        }
        let outFeatures = weight.shape[0]
        let result = context.allocate(.float32, shape: x.shape.dropLast() + [outFeatures])
        let rows = x.count / max(inFeatures, 1)
        if let bias {
            guard bias.count == outFeatures else { throw context.shapeMismatch("the bias has \(bias.count) values for \(outFeatures) outputs") }
            for row in 0..<rows { (result.floats + row * outFeatures).update(from: bias.floats, count: outFeatures) }
        }
        GEMM.multiply(m: rows, n: outFeatures, k: inFeatures, a: x.floats, lda: inFeatures, transposeA: false,
                      b: weight.floats, ldb: inFeatures, transposeB: true, c: result.floats, ldc: outFeatures,
                      beta: bias == nil ? 0 : 1, threads: context.threads)
        return result
    }

    /// Writes `source` broadcast to `target`'s shape into `target`.
    static func fill(_ target: Value, broadcasting source: Value, _ context: KernelContext) throws(ExecutionError) {
        guard let shape = StridedWalk.resultShape([target.shape, source.shape]), shape == target.shape else {
            throw context.shapeMismatch("\(source.shape) does not broadcast to \(target.shape)")
        }
        let walk = StridedWalk(result: target.shape, operands: [source.shape])
        let step = walk.innerStep(0)
        let (from, to) = (source.floats, target.floats)
        walk.forEachRun(in: 0..<walk.count) { start, offsets, length in
            for i in 0..<length { to[start + i] = from[offsets[0] + i * step] }
        }
    }
}
