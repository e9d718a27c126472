import QuantCore

/// Floats as the little-endian bytes of a weight type, for scales and LUTs.
enum ONNXFloatEncoding {
    /// `values` must be exactly representable in `type` (F32, F16 or BF16), as QuantCore's
    /// scales and LUTs are.
    static func bytes(_ values: [Float], as type: ScalarType) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * type.byteWidth)
        values.withUnsafeBufferPointer { values in
            bytes.withUnsafeMutableBytes { bytes in
                do { try FloatConversion.encode(values, to: type, into: bytes) } catch {
                    preconditionFailure("\(type.rawValue) is not a float type scales are stored in")
                }
            }
        }
        return bytes
    }
}
