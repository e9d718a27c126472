import Foundation

/// Elementwise functions of one operand; float math, with the few that also make sense on
/// int64 (negate, absolute, sign, relu) and bool (not).
enum UnaryKernel {
    static func run(_ function: UnaryFunction, _ x: Value, _ context: KernelContext) throws(ExecutionError) -> Value {
        switch x.type {
        case .float32:
            return try floatFunction(function, x, context)
        case .int64:
            switch function {
            case .negate: return map(x, .int64, context) { (v: Int64) -> Int64 in 0 &- v }
            case .absolute: return map(x, .int64, context) { (v: Int64) -> Int64 in v < 0 ? 0 &- v : v }
            case .sign: return map(x, .int64, context) { (v: Int64) -> Int64 in v.signum() }
            case .relu: return map(x, .int64, context) { (v: Int64) -> Int64 in Swift.max(v, 0) }
            default: throw context.unsupported("\(function) is not defined on int64 operands")
            }
        case .bool:
            guard function == .not else { throw context.unsupported("\(function) is not defined on bool operands") }
            return map(x, .bool, context) { (v: Bool) -> Bool in !v }
        }
    }

    private static func floatFunction(_ function: UnaryFunction, _ x: Value, _ context: KernelContext) throws(ExecutionError) -> Value {
        switch function {
        case .relu: return Clamp.relu.run(x, context)
        case .sigmoid: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in sigmoid(v) }
        case .tanh: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in Foundation.tanh(v) }
        case .erf: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in Foundation.erf(v) }
        case .exp: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in Foundation.exp(v) }
        case .log: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in Foundation.log(v) }
        case .sqrt: return map(x, .float32, context) { (v: Float) -> Float in v.squareRoot() }
        case .reciprocalSquareRoot: return map(x, .float32, context) { (v: Float) -> Float in 1 / v.squareRoot() }
        case .reciprocal: return map(x, .float32, context) { (v: Float) -> Float in 1 / v }
        case .negate: return map(x, .float32, context) { (v: Float) -> Float in -v }
        case .absolute: return map(x, .float32, context) { (v: Float) -> Float in Swift.abs(v) }
        case .floor: return map(x, .float32, context) { (v: Float) -> Float in v.rounded(.down) }
        case .ceil: return map(x, .float32, context) { (v: Float) -> Float in v.rounded(.up) }
        // ONNX Round and MIL round both round halves to even.
        case .round: return map(x, .float32, context) { (v: Float) -> Float in v.rounded(.toNearestOrEven) }
        case .sign: return map(x, .float32, context) { (v: Float) -> Float in v > 0 ? 1 : (v < 0 ? -1 : v) }
        case .sin: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in Foundation.sin(v) }
        case .cos: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in Foundation.cos(v) }
        case .not: throw context.unsupported("not is defined on bool operands only")
        case .geluExact:
            return map(x, .float32, context, cost: 20) { (v: Float) -> Float in 0.5 * v * (1 + Foundation.erf(v * 0.70710678118654752)) }
        case .geluTanh:
            return map(x, .float32, context, cost: 20) { (v: Float) -> Float in
                0.5 * v * (1 + Foundation.tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)))
            }
        case .geluSigmoid: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in v * sigmoid(1.702 * v) }
        case .silu: return map(x, .float32, context, cost: 20) { (v: Float) -> Float in v * sigmoid(v) }
        case .softplus:
            // log(1 + eˣ) without overflow for large x.
            return map(x, .float32, context, cost: 20) { (v: Float) -> Float in Swift.max(v, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(v))) }
        case .softsign: return map(x, .float32, context) { (v: Float) -> Float in v / (1 + Swift.abs(v)) }
        case .leakyRelu(let alpha): return map(x, .float32, context) { (v: Float) -> Float in v >= 0 ? v : alpha * v }
        case .elu(let alpha): return map(x, .float32, context, cost: 20) { (v: Float) -> Float in v >= 0 ? v : alpha * (Foundation.exp(v) - 1) }
        case .hardSigmoid(let alpha, let beta):
            return map(x, .float32, context) { (v: Float) -> Float in Swift.max(0, Swift.min(1, alpha * v + beta)) }
        case .hardSwish:
            return map(x, .float32, context) { (v: Float) -> Float in v * Swift.max(0, Swift.min(1, v / 6 + 0.5)) }
        case .scaledTanh(let alpha, let beta):
            return map(x, .float32, context, cost: 20) { (v: Float) -> Float in alpha * Foundation.tanh(beta * v) }
        }
    }

    /// 1/(1+e⁻ˣ) written so neither branch overflows.
    @inline(__always)
    static func sigmoid(_ v: Float) -> Float {
        if v >= 0 {
            return 1 / (1 + Foundation.exp(-v))
        }
        let e = Foundation.exp(v)
        return e / (1 + e)
    }

    @inline(__always)
    static func map<T, R>(_ x: Value, _ resultType: ElementType, _ context: KernelContext, cost: Int = 1, _ f: (T) -> R) -> Value {
        let result = context.allocate(resultType, shape: x.shape)
        let input = x.buffer.pointer.assumingMemoryBound(to: T.self)
        let output = result.buffer.pointer.assumingMemoryBound(to: R.self)
        context.parallelFor(x.count, costPerItem: cost) { range in
            for i in range { output[i] = f(input[i]) }
        }
        return result
    }
}
