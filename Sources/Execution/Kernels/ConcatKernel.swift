/// Operands joined along one axis; every other axis must match.
enum ConcatKernel {
    static func run(_ parts: [Value], axis: Int, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard let first = parts.first else { throw context.shapeMismatch("concat needs at least one operand") }
        let axis = try context.axis(axis, rank: first.rank)
        var shape = first.shape
        shape[axis] = 0
        for part in parts {
            guard part.type == first.type, part.rank == first.rank,
                  part.shape.enumerated().allSatisfy({ $0.offset == axis || $0.element == first.shape[$0.offset] }) else {
                throw context.shapeMismatch("cannot join \(part.shape) (\(part.type)) to \(first.shape) (\(first.type)) along axis \(axis)")
            }
            shape[axis] += part.shape[axis]
        }
        let result = context.allocate(first.type, shape: shape)
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let width = first.type.byteWidth
        let rowBytes = shape[axis] * inner * width
        var offset = 0
        for part in parts {
            let bytes = part.shape[axis] * inner * width
            let source = part.buffer.pointer, target = result.buffer.pointer + offset
            context.parallelFor(outer, costPerItem: bytes / 4) { rows in
                for row in rows { (target + row * rowBytes).copyMemory(from: source + row * bytes, byteCount: bytes) }
            }
            offset += bytes
        }
        return result
    }
}
