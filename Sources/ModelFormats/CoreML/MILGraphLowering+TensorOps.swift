import Execution

/// Reductions and shape and layout ops, with MIL's defaults (coremltools
/// `ops/defs/iOS15/reduction.py`, `tensor_operation.py`, `tensor_transformation.py`,
/// `scatter_gather.py`).
extension MILGraphLowering {
    static let reduceFunctions: [String: ReduceFunction] = [
        "reduce_sum": .sum, "reduce_mean": .mean, "reduce_max": .max, "reduce_min": .min, "reduce_prod": .product,
        "reduce_sum_square": .sumSquare, "reduce_l1_norm": .l1, "reduce_l2_norm": .l2, "reduce_log_sum_exp": .logSumExp,
    ]

    /// Slice bounds that clamp to either end of any axis.
    private static let before = Int64.min, after = Int64.max

    mutating func lowerTensorOp(_ op: Op) throws(ExecutionError) -> Bool {
        if let function = Self.reduceFunctions[op.type] {
            // No axes reduces every axis.
            emit(op, .reduce(function, axes: try ints(op, "axes"), keepDimensions: try bool(op, "keep_dims") ?? false,
                             noopWithEmptyAxes: false), [try required(op, "x")])
            return true
        }
        switch op.type {
        case "reduce_argmax", "reduce_argmin":
            emit(op, .argReduce(op.type == "reduce_argmax" ? .max : .min, axis: try int(op, "axis") ?? -1,
                                keepDimensions: try bool(op, "keep_dims") ?? false, selectLastIndex: false),
                 [try required(op, "x")])
        case "reshape":
            try checkReshapeZeros(op)
            emit(op, .reshape(allowZero: false), [try required(op, "x"), try required(op, "shape")])
        case "transpose":
            emit(op, .transpose(permutation: try ints(op, "perm")), [try required(op, "x")])
        case "concat":
            guard !(try bool(op, "interleave") ?? false) else {
                throw .unsupportedUse(name: op.name, type: op.type, reason: "interleave true")
            }
            guard let axis = try int(op, "axis") else { throw .malformedGraph("op '\(op.name)' of type 'concat' has no 'axis'") }
            var values: [String?] = []
            for index in 0..<argumentCount(op, "values") { values.append(try input(op, "values", index)) }
            emit(op, .concat(axis: axis), values)
        case "split":
            emit(op, .split(axis: try int(op, "axis") ?? 0, sizes: try ints(op, "split_sizes")), [try required(op, "x")])
        case "slice_by_index":
            try lowerSliceByIndex(op)
        case "slice_by_size":
            guard let begin = try ints(op, "begin"), let size = try ints(op, "size"), begin.count == size.count else {
                throw .unsupportedUse(name: op.name, type: op.type, reason: "'begin' and 'size' must be constants of one length")
            }
            let ends = zip(begin, size).map { $1 == -1 ? Self.after : Int64($0 + $1) }
            emitSlice(op, x: try required(op, "x"), starts: begin.map(Int64.init), ends: ends, steps: nil, outputs: op.outputs)
        case "gather":
            guard (try int(op, "batch_dims") ?? 0) == 0 else {
                throw .unsupportedUse(name: op.name, type: op.type, reason: "batch_dims other than 0")
            }
            emit(op, .gather(axis: try int(op, "axis") ?? 0), [try required(op, "x"), try required(op, "indices")])
        case "gather_along_axis":
            emit(op, .gatherElements(axis: try int(op, "axis") ?? 0), [try required(op, "x"), try required(op, "indices")])
        case "squeeze":
            emit(op, .squeeze(axes: try ints(op, "axes") ?? []), [try required(op, "x")])
        case "expand_dims":
            guard let axes = try ints(op, "axes") else { throw .malformedGraph("op '\(op.name)' of type 'expand_dims' has no 'axes'") }
            emit(op, .unsqueeze(axes: axes), [try required(op, "x")])
        case "tile":
            emit(op, .tile, [try required(op, "x"), try required(op, "reps")])
        case "pad":
            try lowerPad(op)
        case "shape":
            emit(op, .shape(start: 0, end: nil), [try required(op, "x")])
        case "range_1d":
            emit(op, .range, [try required(op, "start"), try required(op, "end"), try required(op, "step")])
        case "fill":
            let value = try float(op, "value") ?? 0
            emit(op, .constantOfShape(Self.scalar(value)), [try required(op, "shape")])
        default:
            return false
        }
        return true
    }

    /// iOS15 copies the input's dimension for a 0 at the same position, as the executor does;
    /// iOS17 aligns 0s from the right, which differs only when the ranks differ.
    private func checkReshapeZeros(_ op: Op) throws(ExecutionError) {
        guard let shape = try? ints(op, "shape"), shape.contains(0) else { return }
        guard try rank(op, "x") == shape.count else {
            throw .unsupportedUse(name: op.name, type: op.type, reason: "a 0 in 'shape' when the input's rank differs from the shape's length")
        }
    }

    /// MIL's masks become the bounds that clamp to the ends of the axis; a squeezed axis is
    /// sliced to one element and removed after.
    private mutating func lowerSliceByIndex(_ op: Op) throws(ExecutionError) {
        guard let begin = try ints(op, "begin"), let end = try ints(op, "end"), begin.count == end.count else {
            throw .unsupportedUse(name: op.name, type: op.type, reason: "'begin' and 'end' must be constants of one length")
        }
        let rank = begin.count
        let steps = try ints(op, "stride") ?? [Int](repeating: 1, count: rank)
        let beginMask = try bools(op, "begin_mask") ?? [Bool](repeating: false, count: rank)
        let endMask = try bools(op, "end_mask") ?? [Bool](repeating: false, count: rank)
        let squeezeMask = try bools(op, "squeeze_mask") ?? [Bool](repeating: false, count: rank)
        guard steps.count == rank, beginMask.count == rank, endMask.count == rank, squeezeMask.count == rank,
              !steps.contains(0) else {
            throw .malformedGraph("op '\(op.name)' of type 'slice_by_index': its masks and strides do not match 'begin'")
        }
        var starts: [Int64] = [], ends: [Int64] = []
        for axis in 0..<rank {
            let forward = steps[axis] > 0
            if squeezeMask[axis] {
                // One element at `begin` (end masks do not apply to a squeezed axis).
                starts.append(Int64(begin[axis]))
                ends.append(begin[axis] == -1 ? Self.after : Int64(begin[axis] + 1))
                continue
            }
            starts.append(beginMask[axis] ? (forward ? Self.before : Self.after) : Int64(begin[axis]))
            ends.append(endMask[axis] ? (forward ? Self.after : Self.before) : Int64(end[axis]))
        }
        let squeezed = squeezeMask.indices.filter { squeezeMask[$0] }
        let x = try required(op, "x")
        let effectiveSteps = squeezed.isEmpty ? steps : steps.indices.map { squeezeMask[$0] ? 1 : steps[$0] }
        if squeezed.isEmpty {
            emitSlice(op, x: x, starts: starts, ends: ends, steps: effectiveSteps, outputs: op.outputs)
        } else {
            let sliced = "\(op.outputs.first ?? op.name)/unsqueezed"
            emitSlice(op, x: x, starts: starts, ends: ends, steps: effectiveSteps, outputs: [sliced])
            emit(op, .squeeze(axes: squeezed), [sliced])
        }
    }

    private mutating func emitSlice(_ op: Op, x: String, starts: [Int64], ends: [Int64], steps: [Int]?, outputs: [String]) {
        func vector(_ key: String, _ values: [Int64]) -> String {
            addConstant("\(op.name)/\(key)", ConstantTensor(shape: [values.count], elements: .int64(values)))
        }
        let axes = vector("axes", (0..<Int64(starts.count)).map { $0 })
        emit(op, .slice, [x, vector("starts", starts), vector("ends", ends), axes, steps.map { vector("steps", $0.map(Int64.init)) }],
             outputs: outputs)
    }

    /// MIL pads the last `pad.count / 2` axes, begin and end interleaved; the executor takes all
    /// axes' begins then all ends.
    private mutating func lowerPad(_ op: Op) throws(ExecutionError) {
        let mode: PadMode
        switch try string(op, "mode") ?? "constant" {
        case "constant": mode = .constant
        case "reflect": mode = .reflect
        case "replicate": mode = .edge
        case let other: throw .unsupportedUse(name: op.name, type: op.type, reason: "mode '\(other)'")
        }
        guard let pad = try ints(op, "pad"), pad.count % 2 == 0 else {
            throw .unsupportedUse(name: op.name, type: op.type, reason: "'pad' must be a constant of begin and end pairs")
        }
        let rank = try rank(op, "x")
        let padded = pad.count / 2
        guard padded <= rank else { throw .malformedGraph("op '\(op.name)' of type 'pad' pads \(padded) axes of a rank-\(rank) input") }
        let lead = [Int64](repeating: 0, count: rank - padded)
        let begins = lead + stride(from: 0, to: pad.count, by: 2).map { Int64(pad[$0]) }
        let ends = lead + stride(from: 1, to: pad.count, by: 2).map { Int64(pad[$0]) }
        let pads = addConstant("\(op.name)/pads", ConstantTensor(shape: [2 * rank], elements: .int64(begins + ends)))
        let value = addConstant("\(op.name)/constant_val", Self.scalar(try float(op, "constant_val") ?? 0))
        emit(op, .pad(mode), [try required(op, "x"), pads, value])
    }
}
