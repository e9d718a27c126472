import Execution

extension MILGraphLowering {
    /// The iOS17 activation `quantize` and `dequantize` ops (W8A8 programs): per tensor or,
    /// with `axis`, per channel; quantized values travel as their integer codes.
    mutating func lowerQuantizationOp(_ op: Op) throws(ExecutionError) -> Bool {
        guard op.type == "quantize" || op.type == "dequantize" else { return false }
        let value = try required(op, "input")
        let scale = try required(op, "scale")
        let zeroPoint = try input(op, "zero_point")
        var axis = 0
        if let given = try int(op, "axis") {
            let rank = try rank(op, "input")
            guard (-rank..<rank).contains(given) else {
                throw .malformedGraph("op '\(op.name)' of type '\(op.type)': axis \(given) is outside rank \(rank)")
            }
            axis = given < 0 ? given + rank : given
        }
        if op.type == "dequantize" {
            emit(op, .dequantizeLinear(axis: axis, blockSize: nil), [value, scale, zeroPoint])
            return true
        }
        let range: ClosedRange<Int>
        switch try string(op, "output_dtype") {
        case "int8": range = -128...127
        case "uint8": range = 0...255
        case let other:
            throw .unsupportedUse(name: op.name, type: op.type, reason: "output_dtype '\(other ?? "none")' (int8 and uint8 are Core ML's)")
        }
        emit(op, .quantizeLinear(axis: axis, blockSize: nil, range: range), [value, scale, zeroPoint])
        return true
    }
}
