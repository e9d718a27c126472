/// min(max(x, low), high) with scalar bounds; an absent bound does not clip.
enum ClipKernel {
    static func run(_ x: Value, low: Value?, high: Value?, _ context: KernelContext) throws(ExecutionError) -> Value {
        for bound in [low, high].compactMap({ $0 }) where bound.count != 1 {
            throw context.shapeMismatch("clip bounds must be scalars, not of shape \(bound.shape)")
        }
        switch x.type {
        case .float32:
            return Clamp(low: low?.firstFloat ?? -.infinity, high: high?.firstFloat ?? .infinity).run(x, context)
        case .int64:
            let lower = low.map { $0.integers[0] }.map(Int64.init) ?? .min
            let upper = high.map { $0.integers[0] }.map(Int64.init) ?? .max
            return UnaryKernel.map(x, .int64, context) { (v: Int64) -> Int64 in Swift.min(Swift.max(v, lower), upper) }
        case .bool:
            throw context.unsupported("clip is not defined on bool operands")
        }
    }
}
