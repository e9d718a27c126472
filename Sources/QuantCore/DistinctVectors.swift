/// The distinct vectors among some weight vectors, in lexicographic order as `np.unique(…,
/// axis=0)` sorts them, each with its total weight (how often it occurs, or the sum of the
/// given per-vector weights).
///
/// Components compare as numbers, so −0 and +0 are equal (and stored as +0).
struct DistinctVectors: Sendable, Equatable {
    let dimension: Int
    /// `count × dimension`, row-major.
    var values: [Float]
    var weights: [Double]

    var count: Int { weights.count }

    /// The distinct rows of `vectors`, a row-major `[n, dimension]` array, with `rowWeights`
    /// (one per row) or 1 each.
    init(_ vectors: UnsafeBufferPointer<Float>, dimension: Int, rowWeights: [Double]? = nil) {
        self.dimension = dimension
        let n = vectors.count / dimension
        let base = vectors.baseAddress
        var order = [Int32](0..<Int32(n))
        @inline(__always) func compare(_ a: Int32, _ b: Int32) -> Int {
            let x = base! + Int(a) * dimension, y = base! + Int(b) * dimension
            for component in 0..<dimension where x[component] != y[component] {
                return x[component] < y[component] ? -1 : 1
            }
            return 0
        }
        order.withUnsafeMutableBufferPointer { order in
            order.sort { compare($0, $1) < 0 }
        }
        var values: [Float] = []
        var weights: [Double] = []
        var previous: Int32?
        for index in order {
            let weight = rowWeights?[Int(index)] ?? 1
            if let previous, compare(previous, index) == 0 {
                weights[weights.count - 1] += weight
                continue
            }
            let row = base! + Int(index) * dimension
            for component in 0..<dimension { values.append(row[component] + 0) }
            weights.append(weight)
            previous = index
        }
        self.values = values
        self.weights = weights
    }
}
