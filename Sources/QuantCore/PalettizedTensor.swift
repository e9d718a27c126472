/// A weight tensor after palettization: `w ≈ lut[group][index] · scale[channel]`.
///
/// Storage (what coremltools' `constexpr_lut_to_dense` takes, and the artifact holds):
/// - indices: `nbits` bits each, `indexCount · nbits / 8` bytes when packed LSB-first
///   (`BitPacking`); here one byte each;
/// - LUT: `groups · 2^nbits · clusterDim` values of `lutType`;
/// - per-channel scale (optional): one value of `lutType` per position of the other axes.
public struct PalettizedTensor: Sendable, Equatable {
    public let config: PalettizationConfig
    /// Shape of the original weight.
    public let shape: [Int]
    /// Bits per index: the configured value, or for unique mode the fewest that index every
    /// group's distinct values.
    public let nbits: Int
    /// One per element, or per vector of `clusterDim` channels; row-major in `indexShape`
    /// (the weight's shape with `C / clusterDim` on the channel axis), as `lut_to_dense` reads them.
    public let indices: [UInt8]
    /// Row-major `[groups, 2^nbits, clusterDim]`. Entries past those a group uses are 0, as
    /// coremltools pads them. Every value is exactly representable in `lutType`.
    public let lut: [Float]
    /// The float type of the weight the LUT (and scale) are meant to be stored in.
    public let lutType: ScalarType
    /// coremltools' per-channel scale, when the config enables it: max |w| over the channel
    /// axis at each position of the other axes (1 where all are zero), row-major in
    /// `perChannelScaleShape`. (coremltools 9 reduces over `channel_axis`, not per output
    /// channel as its documentation suggests; this follows the code.)
    public let perChannelScale: [Float]?

    let layout: PaletteLayout

    /// Each distinct weight, how often it occurs and the entry it takes (one group, scalars).
    struct ValueCounts: Sendable, Equatable {
        let values: [Float]
        let counts: [Double]
        let entries: [UInt8]
    }

    /// For one-LUT scalar palettizations of F16/BF16 weights without scales: lets error
    /// metrics sum over distinct values instead of elements (see `QuantizationErrorMetrics`).
    let valueCounts: ValueCounts?

    init(config: PalettizationConfig, layout: PaletteLayout, nbits: Int, indices: [UInt8], lut: [Float],
         lutType: ScalarType, perChannelScale: [Float]?, valueCounts: ValueCounts? = nil) {
        self.config = config
        self.shape = layout.shape
        self.layout = layout
        self.nbits = nbits
        self.indices = indices
        self.lut = lut
        self.lutType = lutType
        self.perChannelScale = perChannelScale
        self.valueCounts = valueCounts
    }

    /// The resolved (non-negative) axis that groups, vectors and scales run along.
    public var channelAxis: Int { layout.channelAxis }
    /// Channels per LUT.
    public var groupSize: Int { layout.groupSize }
    public var clusterDim: Int { layout.clusterDim }
    public var indexShape: [Int] { layout.indexShape }
    public var lutShape: [Int] { [layout.groupCount, 1 << nbits, layout.clusterDim] }

    /// The weight's shape with 1 on the channel axis.
    public var perChannelScaleShape: [Int]? {
        guard perChannelScale != nil else { return nil }
        var shape = self.shape
        shape[layout.channelAxis] = 1
        return shape
    }

    /// The weight as stored palettized, row-major. With per-channel scales each product is
    /// rounded to `lutType`, as Core ML (and numpy) multiply in the weight's type.
    public func dequantized() -> [Float] {
        let layout = layout
        let entries = 1 << nbits
        let d = layout.clusterDim
        return [Float](unsafeUninitializedCapacity: layout.elementCount) { output, initialized in
            indices.withUnsafeBufferPointer { indices in
                lut.withUnsafeBufferPointer { lut in
                    (perChannelScale ?? []).withUnsafeBufferPointer { scales in
                        let output = output.baseAddress!
                        let rows = layout.indexRowCount
                        let chunks = ParallelChunks.chunkCount(items: rows, unitsPerItem: layout.inner * d)
                        ParallelChunks.forEach(count: rows, chunks: chunks) { _, range in
                            for row in range {
                                let table = lut.baseAddress! + layout.group(ofIndexRow: row) * entries * d
                                let element = layout.elementOffset(ofIndexRow: row)
                                let scaleRow = row / layout.vectorChannels * layout.inner
                                for position in 0..<layout.inner {
                                    let entry = table + Int(indices[row * layout.inner + position]) * d
                                    for component in 0..<d {
                                        var value = entry[component]
                                        if !scales.isEmpty {
                                            value = FloatConversion.rounded(value * scales[scaleRow + position], to: lutType)
                                        }
                                        output[element + component * layout.inner + position] = value
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = layout.elementCount
        }
    }

    /// The LUT linearly quantized, as coremltools' `linear_quantize_weights` with
    /// `joint_compression=True` does to a palettized weight: the whole LUT tensor (every
    /// group, padding included) is one per-tensor block, in `lutType` arithmetic, so a single
    /// scale (and zero point) serves all groups. Only per-tensor configs are accepted, as
    /// coremltools refuses others; nil where coremltools leaves the LUT in float, i.e. when
    /// it has fewer than 10 entries or not more than the config's `weightThreshold`.
    public func quantizingLUT(with config: LinearQuantizationConfig) throws(QuantCoreError) -> LinearQuantizedTensor? {
        guard config.granularity == .perTensor else { throw .lutQuantizationNeedsPerTensor }
        guard lut.count >= 10, lut.count > config.weightThreshold else { return nil }
        return try lut.withUnsafeBufferPointer { (lut) throws(QuantCoreError) in
            try LinearQuantizer(config).quantize(lut, shape: lutShape, scaleType: lutType)
        }
    }
}
