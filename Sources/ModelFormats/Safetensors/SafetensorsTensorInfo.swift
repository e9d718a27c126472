import QuantCore

/// One tensor as a safetensors header describes it: where its bytes are, not the bytes.
public struct SafetensorsTensorInfo: Hashable, Sendable {
    public let name: String
    public let dtype: ScalarType
    /// Dimensions, outermost first; `[]` is a scalar (one element).
    public let shape: [Int]
    /// Byte range relative to the start of the data buffer (`SafetensorsHeader.dataStart`).
    public let dataRange: Range<Int>

    public init(name: String, dtype: ScalarType, shape: [Int], dataRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataRange = dataRange
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { dataRange.count }

    /// Bytes needed for `shape` elements of `dtype`, or nil if that overflows `Int`. Elements
    /// are multiplied first and the fold stops at the first overflow, exactly like the reference
    /// implementation's `checked_mul`, so both accept and reject the same shapes.
    static func byteCount(shape: [Int], dtype: ScalarType) -> Int? {
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
        return overflow ? nil : bytes
    }
}
