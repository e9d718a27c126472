/// Conversion between the executor's element types: float → int64 truncates toward zero (as
/// ONNX Cast and numpy's astype), anything → bool is "not zero".
enum CastKernel {
    static func run(_ x: Value, to type: ElementType, _ context: KernelContext) throws(ExecutionError) -> Value {
        switch (x.type, type) {
        case (.float32, .float32), (.int64, .int64), (.bool, .bool):
            return x
        case (.float32, .int64):
            for v in x.floatBuffer where !v.isFinite || Swift.abs(v) >= 9.2e18 {
                throw context.shapeMismatch("\(v) has no int64 value")
            }
            return UnaryKernel.map(x, .int64, context) { (v: Float) -> Int64 in Int64(v) }
        case (.float32, .bool): return UnaryKernel.map(x, .bool, context) { (v: Float) -> Bool in v != 0 }
        case (.int64, .float32): return UnaryKernel.map(x, .float32, context) { (v: Int64) -> Float in Float(v) }
        case (.int64, .bool): return UnaryKernel.map(x, .bool, context) { (v: Int64) -> Bool in v != 0 }
        case (.bool, .float32): return UnaryKernel.map(x, .float32, context) { (v: Bool) -> Float in v ? 1 : 0 }
        case (.bool, .int64): return UnaryKernel.map(x, .int64, context) { (v: Bool) -> Int64 in v ? 1 : 0 }
        }
    }
}
