/// What a kernel needs besides its operands: where to allocate, how many cores it may use, and
/// the node it computes (for errors that name it).
struct KernelContext {
    let arena: Arena
    let threads: Int
    let nodeName: String
    let sourceType: String

    func allocate(_ type: ElementType, shape: [Int]) -> Value {
        Value(shape: shape, type: type, buffer: arena.allocate(type, count: shape.reduce(1, *)))
    }

    /// Scratch memory from the arena, returned when the buffer is dropped.
    func scratch(floats count: Int) -> Buffer {
        arena.allocate(.float32, count: count)
    }

    func shapeMismatch(_ reason: String) -> ExecutionError {
        .shapeMismatch(name: nodeName, type: sourceType, reason: reason)
    }

    func unsupported(_ reason: String) -> ExecutionError {
        .unsupportedUse(name: nodeName, type: sourceType, reason: reason)
    }

    /// An axis counted from the end when negative, checked against `rank`.
    func axis(_ axis: Int, rank: Int) throws(ExecutionError) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < max(rank, 1) else {
            throw shapeMismatch("axis \(axis) is out of range for rank \(rank)")
        }
        return resolved
    }

    func axes(_ axes: [Int], rank: Int) throws(ExecutionError) -> [Int] {
        var resolved: [Int] = []
        for axis in axes {
            let value = try self.axis(axis, rank: rank)
            guard !resolved.contains(value) else { throw shapeMismatch("axis \(axis) is given twice") }
            resolved.append(value)
        }
        return resolved
    }

    func operand(_ operands: [Value?], _ index: Int, _ what: String) throws(ExecutionError) -> Value {
        guard index < operands.count, let value = operands[index] else {
            throw shapeMismatch("the \(what) operand is missing")
        }
        return value
    }

    func floatOperand(_ operands: [Value?], _ index: Int, _ what: String) throws(ExecutionError) -> Value {
        let value = try operand(operands, index, what)
        guard value.type == .float32 else { throw unsupported("the \(what) operand must be float, not \(value.type)") }
        return value
    }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous chunks; inline when
    /// the work (`count · costPerItem` elementary operations) is too small to pay for a thread.
    func parallelFor(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        Parallel.forChunks(count, threads: threads, costPerItem: costPerItem, body)
    }
}
