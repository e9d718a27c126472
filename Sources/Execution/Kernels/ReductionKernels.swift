import Foundation

/// Reductions over any set of axes, and arg-max/arg-min along one.
enum ReductionKernels {
    static func reduce(_ x: Value, _ function: ReduceFunction, axes requested: [Int]?, keepDimensions: Bool, noopWithEmptyAxes: Bool,
                       _ context: KernelContext) throws(ExecutionError) -> Value {
        var axes = try context.axes(requested ?? [], rank: x.rank)
        if axes.isEmpty {
            if noopWithEmptyAxes { return x }
            axes = Array(0..<x.rank)
        }
        let reduced = Set(axes)
        let kept = (0..<x.rank).filter { !reduced.contains($0) }
        // Reduced axes moved last, so each output is one contiguous row.
        let rows = TransposeKernel.permute(x, kept + axes.sorted(), context)
        let span = axes.reduce(1) { $0 * x.shape[$1] }
        let shape = keepDimensions ? x.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element } : kept.map { x.shape[$0] }
        let outputs = shape.reduce(1, *)
        switch x.type {
        case .float32:
            let result = context.allocate(.float32, shape: shape)
            let (source, target) = (rows.floats, result.floats)
            context.parallelFor(outputs, costPerItem: span) { range in
                for index in range { target[index] = reduceRow(source + index * span, span, function) }
            }
            return result
        case .int64:
            let result = context.allocate(.int64, shape: shape)
            let (source, target) = (rows.int64s, result.int64s)
            for index in 0..<outputs {
                let row = UnsafeBufferPointer(start: source + index * span, count: span)
                switch function {
                case .sum: target[index] = row.reduce(0, &+)
                case .product: target[index] = row.reduce(1, &*)
                case .max: target[index] = row.max() ?? .min
                case .min: target[index] = row.min() ?? .max
                default: throw context.unsupported("\(function) of int64 values")
                }
            }
            return result
        case .bool:
            throw context.unsupported("reducing bool values")
        }
    }

    @inline(__always)
    private static func reduceRow(_ row: UnsafeMutablePointer<Float>, _ span: Int, _ function: ReduceFunction) -> Float {
        switch function {
        case .sum, .mean:
            var sum: Float = 0
            for i in 0..<span { sum += row[i] }
            return function == .mean ? sum / Float(span) : sum
        case .max:
            var maximum = -Float.infinity
            for i in 0..<span { maximum = Swift.max(maximum, row[i]) }
            return maximum
        case .min:
            var minimum = Float.infinity
            for i in 0..<span { minimum = Swift.min(minimum, row[i]) }
            return minimum
        case .product:
            var product: Float = 1
            for i in 0..<span { product *= row[i] }
            return product
        case .sumSquare, .l2:
            var sum: Float = 0
            for i in 0..<span { sum += row[i] * row[i] }
            return function == .l2 ? sum.squareRoot() : sum
        case .l1:
            var sum: Float = 0
            for i in 0..<span { sum += Swift.abs(row[i]) }
            return sum
        case .logSumExp:
            var maximum = -Float.infinity
            for i in 0..<span { maximum = Swift.max(maximum, row[i]) }
            guard maximum.isFinite else { return maximum }
            var sum: Float = 0
            for i in 0..<span { sum += Foundation.exp(row[i] - maximum) }
            return maximum + Foundation.log(sum)
        }
    }

    /// Index of the first (or last) largest or smallest element along `axis`, as int64.
    static func argReduce(_ x: Value, _ function: ArgReduceFunction, axis: Int, keepDimensions: Bool, selectLastIndex: Bool,
                          _ context: KernelContext) throws(ExecutionError) -> Value {
        let axis = try context.axis(axis, rank: x.rank)
        let span = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        guard span > 0 else { throw context.shapeMismatch("arg-\(function) over an empty axis") }
        var shape = x.shape
        if keepDimensions { shape[axis] = 1 } else { shape.remove(at: axis) }
        let result = context.allocate(.int64, shape: shape)
        let rows = x.count / span
        func scan<T: Comparable>(_ source: UnsafeMutablePointer<T>) {
            for row in 0..<rows {
                let from = source + (row / inner) * span * inner + row % inner
                var best = 0
                for i in 1..<max(span, 1) {
                    let candidate = from[i * inner], current = from[best * inner]
                    let better = function == .max ? candidate > current : candidate < current
                    if better || (selectLastIndex && candidate == current) { best = i }
                }
                result.int64s[row] = Int64(best)
            }
        }
        switch x.type {
        case .float32: scan(x.floats)
        case .int64: scan(x.int64s)
        case .bool: throw context.unsupported("arg-\(function) of bool values")
        }
        return result
    }
}
