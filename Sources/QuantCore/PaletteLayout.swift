/// How a row-major tensor's elements fall into LUT groups and index vectors, in coremltools'
/// `grouped_channelwise_compress` order.
///
/// With `C` channels on the channel axis, `outer` elements' worth of axes before it and
/// `inner` after it, element `(o, c, i)` sits at `(o·C + c)·inner + i`. Channel `c` uses LUT
/// `c / groupSize`. Indices form a tensor of the weight's shape with `C / clusterDim` on the
/// channel axis, row-major; index `(o, v, i)` stands for the `clusterDim` elements
/// `(o, v·clusterDim + j, i)`, which is what coremltools' `lut_to_dense` expands it to.
struct PaletteLayout: Sendable, Equatable {
    let shape: [Int]
    let channelAxis: Int
    let channels: Int
    let groupSize: Int
    let clusterDim: Int
    /// Elements spanned by one step of the axes before the channel axis.
    let outer: Int
    /// Elements spanned by one step of the channel axis.
    let inner: Int

    init(shape: [Int], config: PalettizationConfig) throws(QuantCoreError) {
        self.shape = shape
        channelAxis = try config.resolvedChannelAxis(rank: shape.count)
        groupSize = try config.resolvedGroupSize(shape: shape)
        clusterDim = config.clusterDim
        channels = shape[channelAxis]
        outer = shape[..<channelAxis].reduce(1, *)
        inner = shape[(channelAxis + 1)...].reduce(1, *)
    }

    var groupCount: Int { channels / groupSize }
    var elementCount: Int { outer * channels * inner }
    var indexCount: Int { elementCount / clusterDim }
    /// Index vectors along the channel axis.
    var vectorChannels: Int { channels / clusterDim }

    var indexShape: [Int] {
        var shape = self.shape
        shape[channelAxis] = vectorChannels
        return shape
    }

    /// Index rows: each `(o, v)` pair owns `inner` consecutive index positions.
    var indexRowCount: Int { outer * vectorChannels }

    @inline(__always) func group(ofIndexRow row: Int) -> Int {
        (row % vectorChannels) * clusterDim / groupSize
    }

    /// Element offset of component 0 of the vectors in index row `row`; component `j` of the
    /// vector at position `i` of the row is `inner · j + i` further on.
    @inline(__always) func elementOffset(ofIndexRow row: Int) -> Int {
        let o = row / vectorChannels
        let v = row % vectorChannels
        return (o * channels + v * clusterDim) * inner
    }

    /// The index rows of `group`: `outer` runs of consecutive rows, one per outer position.
    func indexRows(ofGroup group: Int) -> some Sequence<Range<Int>> {
        let rowsPerGroup = groupSize / clusterDim
        let start = group * rowsPerGroup
        let vectorChannels = self.vectorChannels
        return (0..<outer).lazy.map { o in
            (o * vectorChannels + start)..<(o * vectorChannels + start + rowsPerGroup)
        }
    }

    /// Whether the whole tensor is one group, whose elements are then contiguous.
    var isSingleGroup: Bool { groupCount == 1 }
}
