import Foundation

/// numpy-broadcast arithmetic, comparison and logic on float, int64 and bool operands.
enum BinaryKernel {
    static func run(_ function: BinaryFunction, _ a: Value, _ b: Value, _ context: KernelContext) throws(ExecutionError) -> Value {
        guard a.type == b.type else {
            throw context.unsupported("operands are \(a.type) and \(b.type); both must have one element type")
        }
        guard let shape = StridedWalk.resultShape([a.shape, b.shape]) else {
            throw context.shapeMismatch("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let walk = StridedWalk(result: shape, operands: [a.shape, b.shape])
        switch (a.type, function) {
        case (.float32, .add): return apply(walk, shape, a.floats, b.floats, .float32, context) { $0 + $1 }
        case (.float32, .subtract): return apply(walk, shape, a.floats, b.floats, .float32, context) { $0 - $1 }
        case (.float32, .multiply): return apply(walk, shape, a.floats, b.floats, .float32, context) { $0 * $1 }
        case (.float32, .divide): return apply(walk, shape, a.floats, b.floats, .float32, context) { $0 / $1 }
        case (.float32, .power): return apply(walk, shape, a.floats, b.floats, .float32, context) { Foundation.pow($0, $1) }
        case (.float32, .maximum): return apply(walk, shape, a.floats, b.floats, .float32, context) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        case (.float32, .minimum): return apply(walk, shape, a.floats, b.floats, .float32, context) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
        case (.float32, .floorDivide): return apply(walk, shape, a.floats, b.floats, .float32, context) { ($0 / $1).rounded(.down) }
        case (.float32, .modulo):
            return apply(walk, shape, a.floats, b.floats, .float32, context) { (x: Float, y: Float) -> Float in
                let remainder = fmodf(x, y)
                return remainder != 0 && (remainder < 0) != (y < 0) ? remainder + y : remainder
            }
        case (.float32, .equal): return apply(walk, shape, a.floats, b.floats, .bool, context) { $0 == $1 }
        case (.float32, .notEqual): return apply(walk, shape, a.floats, b.floats, .bool, context) { $0 != $1 }
        case (.float32, .less): return apply(walk, shape, a.floats, b.floats, .bool, context) { $0 < $1 }
        case (.float32, .lessOrEqual): return apply(walk, shape, a.floats, b.floats, .bool, context) { $0 <= $1 }
        case (.float32, .greater): return apply(walk, shape, a.floats, b.floats, .bool, context) { $0 > $1 }
        case (.float32, .greaterOrEqual): return apply(walk, shape, a.floats, b.floats, .bool, context) { $0 >= $1 }

        case (.int64, .add): return apply(walk, shape, a.int64s, b.int64s, .int64, context) { $0 &+ $1 }
        case (.int64, .subtract): return apply(walk, shape, a.int64s, b.int64s, .int64, context) { $0 &- $1 }
        case (.int64, .multiply): return apply(walk, shape, a.int64s, b.int64s, .int64, context) { $0 &* $1 }
        case (.int64, .divide):
            try requireNonZeroDivisor(b, context)
            return apply(walk, shape, a.int64s, b.int64s, .int64, context) { $0 / $1 }
        case (.int64, .floorDivide):
            try requireNonZeroDivisor(b, context)
            return apply(walk, shape, a.int64s, b.int64s, .int64, context) { (x: Int64, y: Int64) -> Int64 in
                let quotient = x / y
                return quotient * y != x && (x < 0) != (y < 0) ? quotient - 1 : quotient
            }
        case (.int64, .modulo):
            try requireNonZeroDivisor(b, context)
            return apply(walk, shape, a.int64s, b.int64s, .int64, context) { (x: Int64, y: Int64) -> Int64 in
                let remainder = x % y
                return remainder != 0 && (remainder < 0) != (y < 0) ? remainder + y : remainder
            }
        case (.int64, .power):
            return apply(walk, shape, a.int64s, b.int64s, .int64, context) { (x: Int64, y: Int64) -> Int64 in
                guard y >= 0 else { return x == 1 ? 1 : 0 }
                var result: Int64 = 1
                for _ in 0..<y { result &*= x }
                return result
            }
        case (.int64, .maximum): return apply(walk, shape, a.int64s, b.int64s, .int64, context) { Swift.max($0, $1) }
        case (.int64, .minimum): return apply(walk, shape, a.int64s, b.int64s, .int64, context) { Swift.min($0, $1) }
        case (.int64, .equal): return apply(walk, shape, a.int64s, b.int64s, .bool, context) { $0 == $1 }
        case (.int64, .notEqual): return apply(walk, shape, a.int64s, b.int64s, .bool, context) { $0 != $1 }
        case (.int64, .less): return apply(walk, shape, a.int64s, b.int64s, .bool, context) { $0 < $1 }
        case (.int64, .lessOrEqual): return apply(walk, shape, a.int64s, b.int64s, .bool, context) { $0 <= $1 }
        case (.int64, .greater): return apply(walk, shape, a.int64s, b.int64s, .bool, context) { $0 > $1 }
        case (.int64, .greaterOrEqual): return apply(walk, shape, a.int64s, b.int64s, .bool, context) { $0 >= $1 }

        case (.bool, .and): return apply(walk, shape, a.bools, b.bools, .bool, context) { $0 && $1 }
        case (.bool, .or): return apply(walk, shape, a.bools, b.bools, .bool, context) { $0 || $1 }
        case (.bool, .xor): return apply(walk, shape, a.bools, b.bools, .bool, context) { $0 != $1 }
        case (.bool, .equal): return apply(walk, shape, a.bools, b.bools, .bool, context) { $0 == $1 }
        case (.bool, .notEqual): return apply(walk, shape, a.bools, b.bools, .bool, context) { $0 != $1 }
        default:
            throw context.unsupported("\(function) is not defined on \(a.type) operands")
        }
    }

    private static func requireNonZeroDivisor(_ divisor: Value, _ context: KernelContext) throws(ExecutionError) {
        if divisor.int64Buffer.contains(0) { throw context.shapeMismatch("integer division by zero") }
    }

    @inline(__always)
    private static func apply<T, R>(_ walk: StridedWalk, _ shape: [Int], _ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>,
                                    _ resultType: ElementType, _ context: KernelContext, _ op: (T, T) -> R) -> Value {
        let result = context.allocate(resultType, shape: shape)
        let out = result.buffer.pointer.assumingMemoryBound(to: R.self)
        let stepA = walk.innerStep(0), stepB = walk.innerStep(1)
        context.parallelFor(walk.count, costPerItem: 2) { range in
            walk.forEachRun(in: range) { start, offsets, length in
                let x = a + offsets[0], y = b + offsets[1], o = out + start
                if stepA == 1, stepB == 1 {
                    for i in 0..<length { o[i] = op(x[i], y[i]) }
                } else if stepB == 0 {
                    let scalar = y[0]
                    for i in 0..<length { o[i] = op(x[i * stepA], scalar) }
                } else if stepA == 0 {
                    let scalar = x[0]
                    for i in 0..<length { o[i] = op(scalar, y[i * stepB]) }
                } else {
                    for i in 0..<length { o[i] = op(x[i * stepA], y[i * stepB]) }
                }
            }
        }
        return result
    }
}
