import Foundation

/// Values computed from shapes and scalars: Shape, ConstantOfShape, Range.
enum ShapeKernels {
    /// Dimensions start..<end of the input's shape, each bound clamped and counted from the end when negative.
    static func shape(of x: Value, start: Int, end: Int?, _ context: KernelContext) -> Value {
        func clamp(_ bound: Int) -> Int { min(max(bound < 0 ? bound + x.rank : bound, 0), x.rank) }
        let dimensions = x.shape[clamp(start)..<max(clamp(start), clamp(end ?? x.rank))]
        let result = context.allocate(.int64, shape: [dimensions.count])
        for (i, size) in dimensions.enumerated() { result.int64s[i] = Int64(size) }
        return result
    }

    static func constantOfShape(_ shape: [Int], value: ConstantTensor, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw context.shapeMismatch("a negative dimension in \(shape)") }
        let result = context.allocate(value.elementType, shape: shape)
        switch value.elements {
        case .float32(let values): result.floatBuffer.update(repeating: values.first ?? 0)
        case .int64(let values): result.int64Buffer.update(repeating: values.first ?? 0)
        case .bool(let values): result.boolBuffer.update(repeating: values.first ?? false)
        }
        return result
    }

    /// start, start + delta, … up to but not including limit; int64 when start is int64.
    static func range(start: Value, limit: Value, delta: Value, _ context: KernelContext) throws(ExecutionError) -> Value {
        if start.type == .int64 {
            let (first, end, step) = (start.int64s[0], limit.integers[0], delta.integers[0])
            guard step != 0 else { throw context.shapeMismatch("a range with a delta of 0") }
            let count = max(0, Int(((Double(end) - Double(first)) / Double(step)).rounded(.up)))
            let result = context.allocate(.int64, shape: [count])
            for i in 0..<count { result.int64s[i] = first + Int64(i) * Int64(step) }
            return result
        }
        let (first, end, step) = (start.firstFloat, limit.firstFloat, delta.firstFloat)
        guard step != 0 else { throw context.shapeMismatch("a range with a delta of 0") }
        let count = max(0, Int(Foundation.ceil((end - first) / step)))
        let result = context.allocate(.float32, shape: [count])
        for i in 0..<count { result.floats[i] = first + Float(i) * step }
        return result
    }
}
