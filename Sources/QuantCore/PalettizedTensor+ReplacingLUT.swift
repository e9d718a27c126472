extension PalettizedTensor {
    /// The same indices and scales over another LUT of the same shape — e.g. the LUT after
    /// joint int8 quantization, to measure what is actually stored.
    public func replacingLUT(_ lut: [Float]) -> PalettizedTensor {
        precondition(lut.count == self.lut.count, "a replacement LUT must have the same shape")
        return PalettizedTensor(config: config, layout: layout, nbits: nbits, indices: indices, lut: lut,
                                lutType: lutType, perChannelScale: perChannelScale, valueCounts: valueCounts)
    }
}
