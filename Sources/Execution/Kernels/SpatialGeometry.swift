/// The sliding-window arithmetic shared by convolution, its transpose and pooling: per spatial
/// axis the input and output sizes, kernel, stride, dilation and padding, lifted to three axes
/// (leading axes of size 1) so one set of loops serves 1-d, 2-d and 3-d.
struct SpatialGeometry {
    static let axes = 3
    var input: [Int]
    var output: [Int]
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    var padBegin: [Int]
    var padEnd: [Int]

    var inputSize: Int { input.reduce(1, *) }
    var outputSize: Int { output.reduce(1, *) }
    var kernelSize: Int { kernel.reduce(1, *) }

    /// Spans of the kernel once dilated, per given axis.
    static func effectiveKernel(_ kernel: [Int], _ dilations: [Int]) -> [Int] {
        zip(kernel, dilations).map { ($0 - 1) * $1 + 1 }
    }

    /// Begin and end pads for a window sliding over `input`: explicit, none, or ONNX's SAME
    /// forms (output = ceil(input / stride), the odd pad at the end for upper, the beginning for lower).
    static func pads(_ padding: Padding, input: [Int], kernel: [Int], strides: [Int], dilations: [Int],
                     _ context: KernelContext) throws(ExecutionError) -> (begin: [Int], end: [Int]) {
        let rank = input.count
        switch padding {
        case .explicit(let pads):
            guard pads.count == 2 * rank else {
                throw context.shapeMismatch("\(pads.count) pads for \(rank) spatial axes; need begins then ends")
            }
            return (Array(pads[0..<rank]), Array(pads[rank...]))
        case .valid:
            return ([Int](repeating: 0, count: rank), [Int](repeating: 0, count: rank))
        case .sameUpper, .sameLower:
            let span = effectiveKernel(kernel, dilations)
            var begin: [Int] = [], end: [Int] = []
            for axis in 0..<rank {
                let out = (input[axis] + strides[axis] - 1) / strides[axis]
                let total = max(0, (out - 1) * strides[axis] + span[axis] - input[axis])
                let small = total / 2
                begin.append(padding == .sameUpper ? small : total - small)
                end.append(padding == .sameUpper ? total - small : small)
            }
            return (begin, end)
        }
    }

    /// Checks the per-axis lists against the spatial rank, defaulting empty lists to ones.
    static func perAxis(_ values: [Int], _ rank: Int, _ what: String, _ context: KernelContext) throws(ExecutionError) -> [Int] {
        if values.isEmpty { return [Int](repeating: 1, count: rank) }
        guard values.count == rank else { throw context.shapeMismatch("\(values.count) \(what) for \(rank) spatial axes") }
        guard values.allSatisfy({ $0 >= 1 }) else { throw context.shapeMismatch("\(what) must be positive, not \(values)") }
        return values
    }

    /// Lifts per-axis values of a 1-d or 2-d window to three axes.
    static func lift(_ values: [Int], fill: Int) -> [Int] {
        [Int](repeating: fill, count: axes - values.count) + values
    }

    init(input: [Int], output: [Int], kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], padEnd: [Int]) {
        self.input = Self.lift(input, fill: 1)
        self.output = Self.lift(output, fill: 1)
        self.kernel = Self.lift(kernel, fill: 1)
        self.strides = Self.lift(strides, fill: 1)
        self.dilations = Self.lift(dilations, fill: 1)
        self.padBegin = Self.lift(padBegin, fill: 0)
        self.padEnd = Self.lift(padEnd, fill: 0)
    }

    /// The output positions along `axis` whose input index `o·stride − padBegin + offset` lands
    /// inside the input.
    @inline(__always)
    func validOutputs(axis: Int, offset: Int) -> Range<Int> {
        let stride = strides[axis], shift = offset - padBegin[axis]
        // o·stride + shift ≥ 0 and < input.
        let low = shift >= 0 ? 0 : (-shift + stride - 1) / stride
        let highExclusive = input[axis] - shift <= 0 ? 0 : (input[axis] - shift + stride - 1) / stride
        let upper = min(output[axis], highExclusive)
        return low < upper ? low..<upper : 0..<0
    }

    /// Taps of a window starting at `start` along `axis` that fall inside the padded input.
    @inline(__always)
    func paddedTaps(axis: Int, start: Int) -> Int {
        let end = min(start + (kernel[axis] - 1) * dilations[axis] + 1, input[axis] + padEnd[axis])
        return (end - start + dilations[axis] - 1) / dilations[axis]
    }
}
