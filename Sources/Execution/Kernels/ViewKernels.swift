/// Operations that only change a value's shape: the result shares the operand's elements.
enum ViewKernels {
    /// ONNX Reshape: 0 copies the input's dimension (unless `allowZero`), one -1 is inferred.
    static func reshape(_ x: Value, shape requested: [Int], allowZero: Bool, _ context: KernelContext) throws(ExecutionError) -> Value {
        var shape = requested
        var inferred: Int?
        for (axis, size) in requested.enumerated() {
            if size == 0, !allowZero {
                guard axis < x.rank else { throw context.shapeMismatch("shape \(requested) copies axis \(axis) of an input of rank \(x.rank)") }
                shape[axis] = x.shape[axis]
            } else if size == -1 {
                guard inferred == nil else { throw context.shapeMismatch("shape \(requested) has more than one -1") }
                inferred = axis
            } else if size < 0 {
                throw context.shapeMismatch("shape \(requested) has a negative dimension")
            }
        }
        if let inferred {
            let known = shape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            guard known != 0, x.count % known == 0 else {
                throw context.shapeMismatch("an input of \(x.shape) cannot be reshaped to \(requested)")
            }
            shape[inferred] = x.count / known
        }
        guard shape.reduce(1, *) == x.count else {
            throw context.shapeMismatch("an input of \(x.shape) (\(x.count) elements) cannot be reshaped to \(requested)")
        }
        return x.reshaped(shape)
    }

    static func flatten(_ x: Value, axis: Int, _ context: KernelContext) throws(ExecutionError) -> Value {
        let split = axis < 0 ? axis + x.rank : axis
        guard split >= 0, split <= x.rank else { throw context.shapeMismatch("axis \(axis) is out of range for rank \(x.rank)") }
        let outer = x.shape[..<split].reduce(1, *)
        return x.reshaped([outer, x.shape[split...].reduce(1, *)])
    }

    /// Without axes, removes every size-1 axis.
    static func squeeze(_ x: Value, axes: [Int]?, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard let axes, !axes.isEmpty else { return x.reshaped(x.shape.filter { $0 != 1 }) }
        let resolved = Set(try context.axes(axes, rank: x.rank))
        for axis in resolved where x.shape[axis] != 1 {
            throw context.shapeMismatch("axis \(axis) of \(x.shape) has size \(x.shape[axis]), not 1")
        }
        return x.reshaped(x.shape.enumerated().filter { !resolved.contains($0.offset) }.map(\.element))
    }

    /// Axes index the result, so they are resolved against its rank.
    static func unsqueeze(_ x: Value, axes: [Int], _ context: KernelContext) throws(ExecutionError) -> Value {
        let rank = x.rank + axes.count
        let resolved = Set(try context.axes(axes, rank: rank))
        var shape: [Int] = []
        var source = x.shape.makeIterator()
        for axis in 0..<rank { shape.append(resolved.contains(axis) ? 1 : source.next()!) }
        return x.reshaped(shape)
    }
}
