import CBLAS

/// Row-major single-precision GEMM on OpenBLAS: C = alpha·op(A)·op(B) + beta·C.
///
/// OpenBLAS runs each call on the calling thread only; a large product is split into column
/// (or row) blocks over the executor's own threads instead. OpenBLAS's worker threads spin
/// after every call, and with the executor's own parallel loops between GEMMs they would
/// contend for the same cores.
enum GEMM {
    /// Products smaller than this many multiply-adds are not worth splitting over threads.
    static let smallProduct = 64 * 64 * 64

    static func multiply(m: Int, n: Int, k: Int,
                         a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                         b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                         c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0, threads: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // OpenBLAS leaves C alone for an empty inner dimension; the product is zero.
            for row in 0..<m {
                for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
            }
            return
        }
        let blocks = m * n * k < smallProduct ? 1 : min(threads, max(m, n) / blockAlignment)
        guard blocks > 1 else {
            sgemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
                  c: c, ldc: ldc, alpha: alpha, beta: beta)
            return
        }
        // Split the longer side of C; block edges fall on multiples of the alignment.
        let splitColumns = n >= m, length = splitColumns ? n : m
        let units = (length + blockAlignment - 1) / blockAlignment
        func multiplyBlock(_ block: Int) {
            let start = min(length, units * block / blocks * blockAlignment)
            let end = min(length, units * (block + 1) / blocks * blockAlignment)
            guard end > start else { return }
            if splitColumns {
                sgemm(m: m, n: end - start, k: k, a: a, lda: lda, transposeA: transposeA,
                      b: b + (transposeB ? start * ldb : start), ldb: ldb, transposeB: transposeB,
                      c: c + start, ldc: ldc, alpha: alpha, beta: beta)
            } else {
                sgemm(m: end - start, n: n, k: k, a: a + (transposeA ? start : start * lda), lda: lda, transposeA: transposeA,
                      b: b, ldb: ldb, transposeB: transposeB,
                      c: c + start * ldc, ldc: ldc, alpha: alpha, beta: beta)
            }
        }
        Parallel.forChunks(blocks, threads: blocks, costPerItem: Parallel.minimumWork) { range in
            for block in range { multiplyBlock(block) }
        }
    }

    /// Column or row blocks are whole multiples of this, a multiple of OpenBLAS's register tiles.
    private static let blockAlignment = 32

    @inline(__always)
    private static func sgemm(m: Int, n: Int, k: Int,
                              a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                              b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                              c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Keeps OpenBLAS on the calling thread (see the type's comment). Set once per process:
    /// `openblas_set_num_threads` reconfigures OpenBLAS's shared thread state and is not safe
    /// to call while another thread is inside a BLAS call.
    static func useCallingThreadOnly() {
        _ = singleThreaded
    }

    private static let singleThreaded: Void = openblas_set_num_threads(1)
}
