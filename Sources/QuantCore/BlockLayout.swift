/// How a row-major tensor's elements fall into quantization blocks, reduced to few loops.
///
/// Each axis of size `d` with block size `b` splits into an *across* axis (`d / b` blocks) and
/// a *within* axis (`b` elements of one block), as coremltools' reshape to
/// `[d0/b0, b0, d1/b1, b1, …]` does. Axes of extent 1 are dropped and neighbours of the same
/// kind merged, so per-channel weights become two loops, `[C_out: across, rest: within]`,
/// and blocks of the scale tensor are numbered in its row-major order.
struct BlockLayout: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Consecutive indices are consecutive blocks.
        case across
        /// Consecutive indices stay in the same block.
        case within
    }

    struct Axis: Sendable, Equatable {
        let size: Int
        let kind: Kind
        let elementStride: Int
        /// Zero for `.within` axes.
        let blockStride: Int
    }

    /// Outermost first; the last axis is the contiguous run the kernels loop over.
    let axes: [Axis]
    let elementCount: Int
    let blockCount: Int
    /// Shape of the scale tensor: blocks per axis, same rank as the weight.
    let scaleShape: [Int]

    init(shape: [Int], blockSizes: [Int]) throws(QuantCoreError) {
        guard blockSizes.count == shape.count else {
            throw .blockSizeRankMismatch(blockSizes: blockSizes.count, rank: shape.count)
        }
        var split: [(size: Int, kind: Kind)] = []
        var scaleShape: [Int] = []
        for (axis, (dimension, requested)) in zip(shape, blockSizes).enumerated() {
            let blockSize = requested == 0 ? dimension : requested
            guard requested >= 0, dimension >= 0, blockSize == 0 || dimension % blockSize == 0 else {
                throw .blockSizeDoesNotDivide(axis: axis, dimension: dimension, blockSize: requested)
            }
            let blocks = blockSize == 0 ? 0 : dimension / blockSize
            scaleShape.append(dimension == 0 ? 0 : blocks)
            split.append((blocks, .across))
            split.append((blockSize, .within))
        }
        var merged: [(size: Int, kind: Kind)] = []
        for part in split where part.size != 1 {
            if let last = merged.last, last.kind == part.kind {
                merged[merged.count - 1].size *= part.size
            } else {
                merged.append(part)
            }
        }
        if merged.isEmpty { merged.append((1, .within)) }

        var axes: [Axis] = []
        var elementStride = 1
        var blockStride = 1
        for part in merged.reversed() {
            axes.append(Axis(size: part.size, kind: part.kind, elementStride: elementStride,
                             blockStride: part.kind == .across ? blockStride : 0))
            elementStride *= part.size
            if part.kind == .across { blockStride *= part.size }
        }
        self.axes = axes.reversed()
        self.elementCount = elementStride
        self.blockCount = blockStride
        self.scaleShape = scaleShape
    }

    /// The innermost axis, whose elements are contiguous in memory.
    var run: Axis { axes[axes.count - 1] }

    /// How many units `forEachRun(in:)` partitions: outer indices, or elements if there is one axis.
    var partitionSize: Int { axes.count == 1 ? elementCount : axes[0].size }

    /// Whether two partitions can touch the same block, so per-block reductions need partials.
    var partitionsShareBlocks: Bool { axes[0].kind == .within }

    /// Elements per partition unit, for sizing parallel chunks.
    var elementsPerPartitionUnit: Int { axes.count == 1 ? 1 : axes[0].elementStride }

    /// Calls `body(elementOffset, blockIndex, length)` for each contiguous run in `partition`.
    ///
    /// In a `.within` run every element belongs to block `blockIndex`; in an `.across` run
    /// element `i` belongs to block `blockIndex + i`.
    @inline(__always)
    func forEachRun(in partition: Range<Int>, _ body: (_ offset: Int, _ block: Int, _ length: Int) -> Void) {
        guard !partition.isEmpty else { return }
        let first = axes[0]
        if axes.count == 1 {
            body(partition.lowerBound, first.kind == .across ? partition.lowerBound : 0, partition.count)
            return
        }
        let length = run.size
        if axes.count == 2 {
            for index in partition {
                body(index &* first.elementStride, index &* first.blockStride, length)
            }
            return
        }
        // An odometer over the middle axes; only rare layouts (blocks on several axes) get here.
        let middle = axes[1..<(axes.count - 1)]
        withUnsafeTemporaryAllocation(of: Int.self, capacity: middle.count) { counters in
            for index in partition {
                var offset = index &* first.elementStride
                var block = index &* first.blockStride
                counters.initialize(repeating: 0)
                outer: while true {
                    body(offset, block, length)
                    var position = middle.count - 1
                    while true {
                        let axis = middle[middle.startIndex + position]
                        counters[position] += 1
                        offset += axis.elementStride
                        block += axis.blockStride
                        if counters[position] < axis.size { break }
                        counters[position] = 0
                        offset -= axis.elementStride * axis.size
                        block -= axis.blockStride * axis.size
                        if position == 0 { break outer }
                        position -= 1
                    }
                }
            }
        }
    }
}
