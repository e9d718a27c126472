import Foundation

/// Where a `TensorProto`'s bytes are and how many there must be: `raw_data`, an external data
/// file, or (for float weights) the typed `float_data` / `int32_data` fields.
enum ONNXTensorPayload {
    /// The tensor's shape, refused when a dimension is negative or the tensor could not exist:
    /// its size at 16 bytes per element (complex128, the widest type) must fit an Int, so that
    /// element and byte counts taken from it cannot overflow.
    static func shape(of tensor: OnnxSubset_TensorProto) throws(ONNXError) -> [Int] {
        var bytes = 16
        for dim in tensor.dims {
            guard dim >= 0, dim <= Int64(Int.max) else { throw .invalidShape(tensor: tensor.name, dims: tensor.dims) }
            let (product, overflow) = bytes.multipliedReportingOverflow(by: Int(dim))
            guard !overflow else { throw .invalidShape(tensor: tensor.name, dims: tensor.dims) }
            bytes = product
        }
        return tensor.dims.map { Int($0) }
    }

    /// Bytes the tensor's data takes in `raw_data` or an external file; nil for strings and
    /// unknown types, whose layout quantd does not need.
    static func byteCount(of tensor: OnnxSubset_TensorProto) throws(ONNXError) -> Int? {
        let elements = try shape(of: tensor).reduce(1, *)
        return ONNXDataType(rawValue: tensor.dataType)?.byteCount(elements: elements)
    }

    static func isExternal(_ tensor: OnnxSubset_TensorProto) -> Bool {
        tensor.dataLocation == .external
    }

    /// Checks that the tensor's bytes are where it says and as many as its shape needs:
    /// external data inside its file (which `files` must hold, by location), `raw_data` of the
    /// right size. Typed fields are checked only for float weights (`checkWeightFields`).
    static func validate(_ tensor: OnnxSubset_TensorProto, files: [String: EntryData]) throws(ONNXError) {
        guard !tensor.hasSegment else { throw .segmentedTensor(tensor.name) }
        guard let count = try byteCount(of: tensor) else { return }
        if isExternal(tensor) {
            let reference = try ONNXExternalData(tensor)
            guard let file = files[reference.location] else {
                throw .externalFileMissing(tensor: tensor.name, location: reference.location)
            }
            _ = try reference.range(byteCount: count, fileSize: file.bytes.count, tensor: tensor.name)
        } else if !tensor.rawData.isEmpty, tensor.rawData.count != count {
            throw .sizeMismatch(tensor: tensor.name, expected: count, actual: tensor.rawData.count)
        }
    }

    /// The bytes of an external or `raw_data` tensor, in place. Nil when the data is in the
    /// typed fields. The tensor must have passed `validate`.
    static func withStoredBytes<R>(_ tensor: OnnxSubset_TensorProto, files: [String: EntryData],
                                   _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        if isExternal(tensor) {
            // Validated: the file exists, the reference parses and the range fits.
            guard let reference = try? ONNXExternalData(tensor), let file = files[reference.location],
                  let count = try? byteCount(of: tensor),
                  let range = try? reference.range(byteCount: count, fileSize: file.bytes.count, tensor: tensor.name)
            else { preconditionFailure("tensor '\(tensor.name)' was not validated") }
            return try body(UnsafeRawBufferPointer(rebasing: file.bytes[range]))
        }
        guard !tensor.rawData.isEmpty || (try? byteCount(of: tensor)) == 0 else { return nil }
        return try tensor.rawData.withUnsafeBytes(body)
    }

    /// Checks a float weight held in typed fields: one `float_data` or `int32_data` entry per element.
    static func checkWeightFields(_ tensor: OnnxSubset_TensorProto, elementCount: Int) throws(ONNXError) {
        guard !isExternal(tensor), tensor.rawData.isEmpty else { return }
        let type = ONNXDataType(rawValue: tensor.dataType)
        let stored = type == .float ? tensor.floatData.count : tensor.int32Data.count
        let width = type == .float ? 4 : 2
        guard stored == elementCount else {
            throw .sizeMismatch(tensor: tensor.name, expected: elementCount * width, actual: stored * width)
        }
    }

    /// A float weight's bytes (F32, F16 or BF16, little-endian): in place from `raw_data` or an
    /// external file, from `float_data` as it is, or widened from `int32_data`, where ONNX
    /// keeps F16 and BF16 bit patterns one per int32.
    static func withWeightBytes<R>(_ tensor: OnnxSubset_TensorProto, files: [String: EntryData],
                                   _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let result = try withStoredBytes(tensor, files: files, body) { return result }
        if tensor.dataType == ONNXDataType.float.rawValue {
            // Floats in memory are little-endian on every platform quantd builds for.
            return try tensor.floatData.withUnsafeBytes(body)
        }
        let halves = tensor.int32Data.map { UInt16(truncatingIfNeeded: $0).littleEndian }
        return try halves.withUnsafeBytes(body)
    }
}
