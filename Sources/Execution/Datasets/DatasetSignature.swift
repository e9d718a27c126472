/// What a sample dataset holds, without its data: one array per model input, samples along
/// the first axis of every array.
public struct DatasetSignature: Sendable, Equatable {
    public struct ArrayInfo: Sendable, Equatable {
        public let name: String
        public let elementType: DatasetElementType
        /// Samples first: `[samples, ...]`.
        public let shape: [Int]

        public init(name: String, elementType: DatasetElementType, shape: [Int]) {
            self.name = name
            self.elementType = elementType
            self.shape = shape
        }
    }

    /// In the file's order.
    public let arrays: [ArrayInfo]

    public init(arrays: [ArrayInfo]) {
        self.arrays = arrays
    }

    /// The first axis shared by every array (readers refuse files where they differ).
    public var sampleCount: Int { arrays.first?.shape.first ?? 0 }

    public func array(named name: String) -> ArrayInfo? {
        arrays.first { $0.name == name }
    }
}
