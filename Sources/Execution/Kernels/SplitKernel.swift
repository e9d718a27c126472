/// Parts along one axis: the given sizes, or equal parts (the last smaller when uneven, as ONNX Split-18).
enum SplitKernel {
    static func run(_ x: Value, axis: Int, sizes: [Int]?, parts: Int, _ context: KernelContext) throws(ExecutionError) -> [Value] {
        let axis = try context.axis(axis, rank: x.rank)
        let length = x.shape[axis]
        let sizes = sizes ?? {
            let part = (length + parts - 1) / max(parts, 1)
            return (0..<parts).map { min(part, max(length - $0 * part, 0)) }
        }()
        guard sizes.count == parts, sizes.reduce(0, +) == length, sizes.allSatisfy({ $0 >= 0 }) else {
            throw context.shapeMismatch("sizes \(sizes) do not split an axis of \(length) into \(parts) parts")
        }
        var start = 0
        return try sizes.map { (size: Int) throws(ExecutionError) -> Value in
            defer { start += size }
            return try SliceKernel.run(x, starts: [start], ends: [start + size], axes: [axis], steps: nil, context)
        }
    }
}
