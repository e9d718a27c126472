/// Padding (negative pads crop) with a constant, the reflection without the edge, or the edge.
enum PadKernel {
    static func run(_ x: Value, pads: [Int], value: Value?, mode: PadMode, _ context: KernelContext) throws(ExecutionError) -> Value {
        let rank = x.rank
        guard pads.count == 2 * rank else { throw context.shapeMismatch("\(pads.count) pads for an input of rank \(rank); need begins then ends") }
        let shape = (0..<rank).map { x.shape[$0] + pads[$0] + pads[rank + $0] }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw context.shapeMismatch("pads \(pads) crop more than \(x.shape) holds") }
        if mode != .constant, shape.reduce(1, *) > 0 {
            for axis in 0..<rank where x.shape[axis] == 0 && shape[axis] > 0 {
                throw context.shapeMismatch("\(mode) padding of an empty axis \(axis)")
            }
            if mode == .reflect {
                for axis in 0..<rank where max(pads[axis], pads[rank + axis]) >= x.shape[axis] {
                    throw context.shapeMismatch("reflect padding of \(max(pads[axis], pads[rank + axis])) on an axis of \(x.shape[axis])")
                }
            }
        }
        let result = context.allocate(x.type, shape: shape)
        // Per axis, the source index of each output index, or -1 for the constant.
        let sources: [[Int]] = (0..<rank).map { axis in
            let size = x.shape[axis]
            return (0..<shape[axis]).map { position in
                var index = position - pads[axis]
                if index >= 0, index < size { return index }
                switch mode {
                case .constant: return -1
                case .edge: return min(max(index, 0), size - 1)
                case .reflect:
                    while index < 0 || index >= size { index = index < 0 ? -index : 2 * (size - 1) - index }
                    return index
                }
            }
        }
        switch x.type {
        case .float32: fill(x.floats, result.floats, x.shape, shape, sources, value?.firstFloat ?? 0)
        case .int64: fill(x.int64s, result.int64s, x.shape, shape, sources, Int64(value?.integers.first ?? 0))
        case .bool: fill(x.bools, result.bools, x.shape, shape, sources, value.map { $0.integers.first != 0 } ?? false)
        }
        return result
    }

    private static func fill<T>(_ source: UnsafeMutablePointer<T>, _ target: UnsafeMutablePointer<T>, _ inputShape: [Int], _ shape: [Int],
                                _ sources: [[Int]], _ constant: T) {
        let rank = shape.count
        guard rank > 0 else { target[0] = source[0]; return }
        var strides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * inputShape[axis + 1] }
        let count = shape.reduce(1, *), inner = shape[rank - 1], last = sources[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var position = 0
        while position < count {
            var base = 0, outside = false
            for axis in 0..<(rank - 1) {
                let s = sources[axis][index[axis]]
                if s < 0 { outside = true; break }
                base += s * strides[axis]
            }
            for i in 0..<inner { target[position + i] = outside || last[i] < 0 ? constant : source[base + last[i]] }
            position += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
