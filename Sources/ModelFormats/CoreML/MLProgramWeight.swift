/// A weight of an ML Program: a `const` op whose value is a float tensor in the weight file,
/// with what consumes it (for `op_type_configs` and the quantization axis).
public struct MLProgramWeight: Sendable, Equatable {
    /// The const op's name, as coremltools' `get_weights_metadata` reports it (the key of
    /// `op_name_configs`).
    public let name: String
    /// The const's output value name, which consumers bind to.
    public let outputName: String
    public let dataType: MILBlobDataType
    public let shape: [Int]
    /// `BlobFileValue.fileName` and `.offset` (the blob's metadata offset).
    public let fileName: String
    public let blobOffset: UInt64
    /// Types of the ops that read it, in program order, duplicates removed.
    public let consumerTypes: [String]
    /// The output-channel axis its consumers imply (coremltools' rules: conv_transpose 1,
    /// matmul by operand and transpose flag, 0 otherwise); nil when consumers disagree.
    public let outputAxis: Int?
    /// The largest `groups` of the convolutions that read it (1 otherwise).
    public let convolutionGroups: Int
    /// Whether a consumer is already a constexpr op (a const feeding a compressed form).
    public let feedsConstexpr: Bool

    public var elementCount: Int { shape.reduce(1, *) }
}
