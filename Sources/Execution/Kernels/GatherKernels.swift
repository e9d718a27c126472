/// Gather (whole slices picked by index along an axis) and GatherElements (one element per index).
enum GatherKernels {
    static func gather(_ data: Value, indices: Value, axis: Int, _ context: KernelContext) throws(ExecutionError) -> Value {
        let axis = try context.axis(axis, rank: data.rank)
        let size = data.shape[axis]
        let picks = try resolve(indices.integers, size: size, context)
        let outer = data.shape[..<axis].reduce(1, *), inner = data.shape[(axis + 1)...].reduce(1, *)
        let result = context.allocate(data.type, shape: Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...]))
        let width = data.type.byteWidth, chunk = inner * width
        let (source, target) = (data.buffer.pointer, result.buffer.pointer)
        context.parallelFor(outer * picks.count, costPerItem: inner) { range in
            for item in range {
                let row = item / picks.count, pick = picks[item % picks.count]
                (target + item * chunk).copyMemory(from: source + (row * size + pick) * chunk, byteCount: chunk)
            }
        }
        return result
    }

    static func gatherElements(_ data: Value, indices: Value, axis: Int, _ context: KernelContext) throws(ExecutionError) -> Value {
        let axis = try context.axis(axis, rank: data.rank)
        guard indices.rank == data.rank else { throw context.shapeMismatch("indices of \(indices.shape) for data of \(data.shape)") }
        let size = data.shape[axis]
        let picks = try resolve(indices.integers, size: size, context)
        var dataStrides = [Int](repeating: 1, count: data.rank)
        for a in stride(from: data.rank - 2, through: 0, by: -1) { dataStrides[a] = dataStrides[a + 1] * data.shape[a + 1] }
        let result = context.allocate(data.type, shape: indices.shape)
        let width = data.type.byteWidth
        var index = [Int](repeating: 0, count: indices.rank)
        for position in 0..<indices.count {
            var offset = 0
            for a in 0..<indices.rank {
                guard a == axis || index[a] < data.shape[a] else {
                    throw context.shapeMismatch("indices of \(indices.shape) reach past data of \(data.shape) on axis \(a)")
                }
                offset += (a == axis ? picks[position] : index[a]) * dataStrides[a]
            }
            (result.buffer.pointer + position * width).copyMemory(from: data.buffer.pointer + offset * width, byteCount: width)
            var a = indices.rank - 1
            while a >= 0 {
                index[a] += 1
                if index[a] < indices.shape[a] { break }
                index[a] = 0
                a -= 1
            }
        }
        return result
    }

    /// Negative indices count from the end; anything outside the axis is an error.
    private static func resolve(_ indices: [Int], size: Int, _ context: KernelContext) throws(ExecutionError) -> [Int] {
        var resolved: [Int] = []
        resolved.reserveCapacity(indices.count)
        for index in indices {
            let value = index < 0 ? index + size : index
            guard value >= 0, value < size else { throw context.shapeMismatch("index \(index) is out of range for an axis of \(size)") }
            resolved.append(value)
        }
        return resolved
    }
}
