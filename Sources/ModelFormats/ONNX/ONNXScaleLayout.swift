/// How QuantCore's per-block scales (one per block, `blockCounts` blocks along each axis)
/// become `DequantizeLinear`'s: a scalar (per tensor), a 1-D tensor along `axis` (per
/// channel), or — opset 21's blocked form — a tensor of the weight's rank whose dimensions
/// equal the weight's except along `axis`, where `blockSize` elements share a scale.
///
/// ONNX blocks along one axis only. An axis a block spans whole is expressed by repeating the
/// scales along it, so coremltools' per-block layout (blocks along the input axis, one per
/// output channel, whole extent elsewhere) fits; blocks longer than 1 and shorter than their
/// axis on two axes do not.
struct ONNXScaleLayout: Equatable {
    enum Form: Equatable {
        case perTensor
        case perAxis(Int)
        case blocked(axis: Int, blockSize: Int)
    }

    let form: Form
    /// The shape of DequantizeLinear's scale and zero point.
    let dims: [Int]
    private let shape: [Int]
    private let blockCounts: [Int]

    init(shape: [Int], blockCounts: [Int], weight: String) throws(ONNXError) {
        precondition(shape.count == blockCounts.count, "scale shape rank differs from the weight's")
        self.shape = shape
        self.blockCounts = blockCounts
        let split = shape.indices.filter { blockCounts[$0] > 1 }
        if split.isEmpty {
            form = .perTensor
            dims = []
            return
        }
        if split.count == 1, blockCounts[split[0]] == shape[split[0]] {
            form = .perAxis(split[0])
            dims = [shape[split[0]]]
            return
        }
        let partial = split.filter { blockCounts[$0] < shape[$0] }
        guard partial.count <= 1 else {
            throw .inexpressible(weight: weight, reason: "it is quantized in blocks along axes \(partial), but ONNX's DequantizeLinear blocks along one axis only; use blocks along one axis (coremltools' block_size as an int)")
        }
        // With no axis split into proper blocks, a whole axis of more than one element serves
        // as one block; failing that every axis is per element and any axis takes blocks of 1.
        let axis = partial.first ?? shape.indices.first { blockCounts[$0] == 1 && shape[$0] > 1 } ?? split[0]
        form = .blocked(axis: axis, blockSize: shape[axis] / blockCounts[axis])
        dims = shape.indices.map { $0 == axis ? blockCounts[$0] : shape[$0] }
    }

    var elementCount: Int { dims.reduce(1, *) }

    /// The opset DequantizeLinear needs for this layout with scales of `scaleType`:
    /// 13 for `axis`, 19 for F16 scales, 21 for blocks.
    func minimumOpset(halfPrecisionScale: Bool) -> Int {
        if case .blocked = form { return 21 }
        return halfPrecisionScale ? 19 : 13
    }

    /// `values` (one per block, row-major in `blockCounts`) laid out in `dims`, repeated
    /// along the axes a block spans whole. Per tensor and per axis they already are.
    func expand<T>(_ values: [T]) -> [T] {
        guard case .blocked = form, dims != blockCounts else { return values }
        let rank = dims.count
        var result: [T] = []
        result.reserveCapacity(elementCount)
        var index = [Int](repeating: 0, count: rank)
        for _ in 0..<elementCount {
            var source = 0
            for axis in 0..<rank {
                source = source * blockCounts[axis] + index[axis] / (dims[axis] / blockCounts[axis])
            }
            result.append(values[source])
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < dims[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }

    /// The block (row-major in `blockCounts`) of the element at row-major `offset`.
    func block(ofElement offset: Int) -> Int {
        var remaining = offset
        var block = 0
        var stride = 1
        for axis in shape.indices.reversed() {
            let coordinate = remaining % shape[axis]
            remaining /= shape[axis]
            block += coordinate / (shape[axis] / blockCounts[axis]) * stride
            stride *= blockCounts[axis]
        }
        return block
    }

    /// DequantizeLinear's attributes for this layout.
    var attributes: [ONNXAttribute] {
        switch form {
        case .perTensor: []
        case .perAxis(let axis): [.init("axis", .int(axis))]
        case .blocked(let axis, let blockSize): [.init("axis", .int(axis)), .init("block_size", .int(blockSize))]
        }
    }
}
