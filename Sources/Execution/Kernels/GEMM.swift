import CBLAS

/// Row-major single-precision GEMM on OpenBLAS: C = alpha·op(A)·op(B) + beta·C.
enum GEMM {
    /// Products smaller than this many multiply-adds gain nothing from OpenBLAS's threads, so a
    /// batch of them is spread over the executor's cores one product per core instead.
    static let smallProduct = 64 * 64 * 64

    @inline(__always)
    static func multiply(m: Int, n: Int, k: Int,
                         a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                         b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                         c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // OpenBLAS leaves C alone for an empty inner dimension; the product is zero.
            for row in 0..<m {
                for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Tells OpenBLAS how many threads its GEMMs may use.
    static func useThreads(_ threads: Int) {
        openblas_set_num_threads(Int32(max(threads, 1)))
    }
}
