/// `np.percentile(map, q)` with numpy 2's default (linear) method, as coremltools' magnitude
/// pruning calls it on the magnitudes of one tensor; the pruned set is `map ≤ result`.
///
/// numpy 2 does the index arithmetic in the array's dtype (NEP 50): `q / 100`,
/// `(n − 1) · quantile`, its floor and `floor + 1` are all rounded to float16 for a float16
/// tensor. Only the two neighbouring order statistics are needed, which the caller supplies.
struct NumpyPercentile {
    /// Which sorted positions (0-based) the interpolation reads, and how.
    let lowerRank: Int
    let upperRank: Int
    /// Interpolation weight, already in the dtype.
    let gamma: Float
    let arithmetic: DTypeArithmetic

    /// The plan for `count` values at percentile `q` (0…100, a Python float).
    init(count: Int, percent q: Double, arithmetic: DTypeArithmetic) {
        precondition(count > 0)
        self.arithmetic = arithmetic
        let r = arithmetic
        // q = true_divide(q, dtype(100)), the Python float cast to the dtype first.
        let quantile = r.rounded(r.rounded(q) / 100)
        let last = r.rounded(Double(count - 1))
        let virtualIndex = r.rounded(last * quantile)
        var previous = virtualIndex.rounded(.down)
        var next = r.rounded(previous + 1)
        // Above the last index (or NaN), numpy reads the maximum through index −1.
        if virtualIndex >= last || virtualIndex.isNaN {
            previous = -1
            next = -1
        }
        let previousIndex = Int(previous)
        // gamma = virtual − previous is float16/32 minus intp, promoted to float64, then cast back.
        gamma = r.rounded(Double(virtualIndex) - Double(previousIndex))
        lowerRank = previousIndex < 0 ? count - 1 : min(previousIndex, count - 1)
        upperRank = next < 0 ? count - 1 : min(Int(next), count - 1)
    }

    /// numpy's `_lerp(lower, upper, gamma)`, which interpolates from the nearer end.
    func value(lower: Float, upper: Float) -> Float {
        let r = arithmetic
        let difference = r.rounded(upper - lower)
        if gamma >= 0.5 {
            return r.rounded(upper - r.rounded(difference * r.rounded(1 - gamma)))
        }
        return r.rounded(lower + r.rounded(difference * gamma))
    }
}
