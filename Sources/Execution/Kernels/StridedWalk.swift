/// A walk over a row-major result in contiguous runs, with each operand's matching offset: how
/// numpy broadcasting, transposes, slices and expands read their operands.
struct StridedWalk {
    /// The result's shape with adjacent axes merged where every operand is contiguous across them.
    let shape: [Int]
    /// Per operand, its element stride along each axis of `shape`; 0 where it is broadcast.
    let strides: [[Int]]
    let count: Int

    /// nil when the shapes do not broadcast.
    static func resultShape(_ shapes: [[Int]]) -> [Int]? {
        let rank = shapes.map(\.count).max() ?? 0
        var result = [Int](repeating: 1, count: rank)
        for shape in shapes {
            let offset = rank - shape.count
            for (axis, size) in shape.enumerated() {
                let current = result[offset + axis]
                if current == size || size == 1 { continue }
                guard current == 1 else { return nil }
                result[offset + axis] = size
            }
        }
        return result
    }

    /// The walk of `result` (from `resultShape`) reading operands of `shapes` broadcast to it.
    init(result: [Int], operands shapes: [[Int]]) {
        let rank = result.count
        let strides: [[Int]] = shapes.map { shape in
            var strides = [Int](repeating: 0, count: rank)
            var step = 1
            for axis in (0..<shape.count).reversed() {
                let target = rank - shape.count + axis
                strides[target] = shape[axis] == 1 && result[target] != 1 ? 0 : step
                step *= shape[axis]
            }
            return strides
        }
        self.init(result: result, strides: strides)
    }

    /// The walk of `result` reading operands at the given element strides per result axis.
    init(result: [Int], strides: [[Int]]) {
        let rank = result.count
        // Merge axis i into axis i+1 where every operand steps across it as one run.
        var mergedShape: [Int] = []
        var mergedStrides = [[Int]](repeating: [], count: strides.count)
        for axis in 0..<rank where result[axis] != 1 {
            if let last = mergedShape.last,
               strides.indices.allSatisfy({ strides[$0][axis] * result[axis] == mergedStrides[$0].last! }) {
                mergedShape[mergedShape.count - 1] = last * result[axis]
                for operand in strides.indices { mergedStrides[operand][mergedStrides[operand].count - 1] = strides[operand][axis] }
            } else {
                mergedShape.append(result[axis])
                for operand in strides.indices { mergedStrides[operand].append(strides[operand][axis]) }
            }
        }
        if mergedShape.isEmpty {
            mergedShape = [1]
            mergedStrides = mergedStrides.map { _ in [0] }
        }
        self.shape = mergedShape
        self.strides = mergedStrides
        self.count = result.reduce(1, *)
    }

    /// The element step of each operand along the innermost run.
    func innerStep(_ operand: Int) -> Int { strides[operand].last! }

    /// Calls `body(resultOffset, operandOffsets, runLength)` for every contiguous run of result
    /// positions in `range`, in order; operand offsets are for the run's first element.
    func forEachRun(in range: Range<Int>, _ body: (Int, UnsafeBufferPointer<Int>, Int) -> Void) {
        guard !range.isEmpty else { return }
        let rank = shape.count
        let operands = strides.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank + operands) { scratch in
            let index = UnsafeMutableBufferPointer(rebasing: scratch[0..<rank])
            let offsets = UnsafeMutableBufferPointer(rebasing: scratch[rank..<(rank + operands)])
            var remainder = range.lowerBound
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                index[axis] = remainder % shape[axis]
                remainder /= shape[axis]
            }
            var position = range.lowerBound
            let inner = shape[rank - 1]
            while position < range.upperBound {
                for operand in 0..<operands {
                    var offset = 0
                    for axis in 0..<rank { offset += index[axis] * strides[operand][axis] }
                    offsets[operand] = offset
                }
                let length = min(inner - index[rank - 1], range.upperBound - position)
                body(position, UnsafeBufferPointer(offsets), length)
                position += length
                index[rank - 1] += length
                var axis = rank - 1
                while axis > 0, index[axis] == shape[axis] {
                    index[axis] = 0
                    index[axis - 1] += 1
                    axis -= 1
                }
            }
        }
    }
}

extension StridedWalk {
    /// Copies the one operand this walk reads, from `source`, into `target` in result order.
    func copy<T>(from source: UnsafePointer<T>, to target: UnsafeMutablePointer<T>, _ context: KernelContext) {
        let step = innerStep(0)
        context.parallelFor(count) { range in
            forEachRun(in: range) { start, offsets, length in
                let from = source + offsets[0], to = target + start
                if step == 1 {
                    to.update(from: from, count: length)
                } else {
                    for i in 0..<length { to[i] = from[i * step] }
                }
            }
        }
    }

    /// `copy` for a value of any element type, `offset` elements into it.
    func copy(_ source: Value, offset: Int = 0, to target: Value, _ context: KernelContext) {
        switch source.type {
        case .float32: copy(from: source.floats + offset, to: target.floats, context)
        case .int64: copy(from: source.int64s + offset, to: target.int64s, context)
        case .bool: copy(from: source.bools + offset, to: target.bools, context)
        }
    }
}
