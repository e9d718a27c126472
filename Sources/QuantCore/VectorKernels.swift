import CQuantKernels

/// The AVX2/F16C/FMA loops of `CQuantKernels` over one source tensor, for CPUs that have them and
/// element types they read natively (float16, float32); `WeightSource.vectorKernels` is nil
/// otherwise and the portable Swift loops run. Both compute the same codes and extremes.
struct VectorKernels {
    static let isAvailable = qk_vector_kernels_available() != 0

    let element: Int32
    let base: UnsafeRawPointer

    init?(element: Int32, base: UnsafeRawPointer) {
        guard Self.isAvailable else { return nil }
        self.element = element
        self.base = base
    }

    private var elementSize: Int { element == QK_FLOAT16 ? 2 : 4 }

    /// Lowers `low` and raises `high` to the extreme order keys of elements `offset..<offset + count`.
    @inline(__always)
    func orderKeyExtremes(offset: Int, count: Int, low: inout Int32, high: inout Int32) {
        qk_order_key_extremes(element, base + offset &* elementSize, count, &low, &high)
    }

    /// Writes the codes of the leading multiple of 8 of elements `offset..<offset + count`
    /// to `codes + offset`; returns how many that is.
    @inline(__always)
    func codes(offset: Int, count: Int, block: BlockQuantization, float16Quotient: Bool,
               into codes: UnsafeMutablePointer<UInt8>) -> Int {
        let vectorCount = count & ~7
        var parameters = qk_block(scale: block.scale, lower: Int32(block.lower), upper: Int32(block.upper),
                                  zero_point: block.zeroPoint, float16_quotient: float16Quotient ? 1 : 0)
        qk_codes(element, base + offset &* elementSize, vectorCount, &parameters, codes + offset)
        return vectorCount
    }

    /// Adds the leading multiple of 8 of elements `offset..<offset + count` into `lanes`;
    /// returns how many that is.
    @inline(__always)
    func measure(offset: Int, count: Int, codes: UnsafePointer<UInt8>, scale: Float, zeroPoint: Float,
                 signed: Bool, lanes: inout qk_lanes) -> Int {
        let vectorCount = count & ~7
        qk_measure(element, base + offset &* elementSize, codes + offset, vectorCount, scale, zeroPoint, signed ? 1 : 0, &lanes)
        return vectorCount
    }

    /// Quantizes runs `first..<first + count` of `length` elements each, one block per run,
    /// as `qk_quantize_symmetric_runs` says: writes their codes at `codes + first·length` and
    /// scales at `scales + first`, and adds their error to `lanes` when given. Returns its
    /// status: `QK_RUN_OK` when every run is done.
    @inline(__always)
    func quantizeSymmetricRuns(_ plan: qk_symmetric_plan, first: Int, count: Int, length: Int,
                               codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>,
                               lanes: UnsafeMutablePointer<qk_lanes>?, pending: inout Int,
                               flush: qk_flush?, context: UnsafeMutableRawPointer?) -> Int32 {
        var plan = plan
        var status: Int32 = QK_RUN_OK
        _ = qk_quantize_symmetric_runs(&plan, base + first &* length &* elementSize, length, count,
                                       codes + first &* length, scales + first, lanes, &pending, flush, context, &status)
        return status
    }
}
