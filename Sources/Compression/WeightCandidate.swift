import QuantCore

/// A weight as a format hands it to the compression core: what it is and who reads it, never
/// its bytes (those come with each call, read in place by the format).
public struct WeightCandidate: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var type: ScalarType
    /// The op type `op_type_configs` match: the first op that reads it, as the format names it.
    public var opType: String?
    /// The output-channel axis as coremltools sees it (conv 0, linear 0, …); nil when the
    /// ops that read it disagree.
    public var outputAxis: Int?
    /// Why the format cannot compress it whatever the config, or nil.
    public var ineligibility: SkipReason?
    /// The `groups` of a grouped convolution that reads it (1 otherwise): each group sees
    /// `shape[0] / groups` of its first axis, which vector palettization must divide.
    public var convolutionGroups: Int

    public init(name: String, shape: [Int], type: ScalarType, opType: String?, outputAxis: Int? = 0,
                ineligibility: SkipReason? = nil, convolutionGroups: Int = 1) {
        self.convolutionGroups = convolutionGroups
        self.name = name
        self.shape = shape
        self.type = type
        self.opType = opType
        self.outputAxis = outputAxis
        self.ineligibility = ineligibility
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * type.byteWidth }

    /// coremltools' input axis for the output axis: the neighbouring one of the pair it picks.
    public var inputAxis: Int? {
        guard let output = outputAxis else { return nil }
        let rank = shape.count
        if output == 0 { return 1 }
        if output == rank - 1 { return rank - 2 }
        if output == rank - 2 { return rank - 1 }
        return 0
    }
}
