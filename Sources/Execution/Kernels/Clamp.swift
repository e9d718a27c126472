/// min(max(x, low), high) on floats: ReLU (0, +∞), ReLU6 (0, 6) and float Clip. A loop of its
/// own rather than a closure handed to `UnaryKernel.map`, so it compiles to vector min/max.
struct Clamp: Sendable, Equatable {
    let low: Float
    let high: Float

    static let relu = Clamp(low: 0, high: .infinity)

    @inline(__always)
    func apply(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, count: Int) {
        let (low, high) = (self.low, self.high)
        for i in 0..<count { target[i] = Swift.min(Swift.max(source[i], low), high) }
    }

    func run(_ x: Value, _ context: KernelContext) -> Value {
        let result = context.allocate(.float32, shape: x.shape)
        let (source, target) = (x.floats, result.floats)
        context.parallelFor(x.count) { range in
            apply(source + range.lowerBound, target + range.lowerBound, count: range.count)
        }
        return result
    }
}
