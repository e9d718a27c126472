/// A tensor's `external_data` entries: which file of the upload holds its bytes, and where.
struct ONNXExternalData: Equatable, Sendable {
    /// A validated relative path (see `ArchivePath`), relative to the model's directory.
    let location: String
    let offset: UInt64
    /// nil when the entries leave it to the tensor's shape and type.
    let length: UInt64?

    init(_ tensor: OnnxSubset_TensorProto) throws(ONNXError) {
        var location: String?
        var offset: UInt64 = 0
        var length: UInt64?
        for entry in tensor.externalData {
            switch entry.key {
            case "location": location = entry.value
            case "offset": offset = try Self.number(entry.value, key: "offset", tensor: tensor.name)
            case "length": length = try Self.number(entry.value, key: "length", tensor: tensor.name)
            default: continue  // `checksum` and keys from later IR versions say nothing about where the bytes are
            }
        }
        guard let location else { throw .malformedExternalData(tensor: tensor.name, reason: "it has no 'location' entry") }
        do {
            self.location = try ArchivePath.validated(location)
        } catch {
            if case .unsafePath(_, let reason) = error {
                throw .unsafeExternalLocation(tensor: tensor.name, location: location, reason: reason)
            }
            throw .unsafeExternalLocation(tensor: tensor.name, location: location, reason: "\(error)")
        }
        self.offset = offset
        self.length = length
    }

    /// The byte range of `byteCount` bytes in a file of `fileSize`, checked.
    func range(byteCount: Int, fileSize: Int, tensor: String) throws(ONNXError) -> Range<Int> {
        if let length, length != UInt64(byteCount) {
            throw .sizeMismatch(tensor: tensor, expected: byteCount, actual: Int(clamping: length))
        }
        guard offset <= UInt64(fileSize), UInt64(byteCount) <= UInt64(fileSize) - offset else {
            throw .externalDataOutOfRange(tensor: tensor, location: location, offset: offset,
                                          length: length ?? UInt64(byteCount), fileSize: fileSize)
        }
        return Int(offset)..<(Int(offset) + byteCount)
    }

    private static func number(_ text: String, key: String, tensor: String) throws(ONNXError) -> UInt64 {
        guard let value = UInt64(text), value <= UInt64(Int.max) else {
            throw .malformedExternalData(tensor: tensor, reason: "'\(key)' is '\(text)', not a byte count")
        }
        return value
    }
}
