import QuantCore

/// Integer codes (one byte each, as QuantCore keeps them) in the ONNX types that hold them.
enum ONNXLinearCodes {
    static func dataType(_ dtype: LinearQuantizationConfig.DType) -> ONNXDataType {
        switch dtype {
        case .int8: .int8
        case .uint8: .uint8
        case .int4: .int4
        case .uint4: .uint4
        }
    }

    /// 8-bit codes as they are; 4-bit ones two per byte, low nibble first (ONNX's INT4/UINT4).
    static func bytes(_ codes: [UInt8], bits: Int) -> [UInt8] {
        bits == 4 ? BitPacking.pack(codes, bits: 4) : codes
    }
}
