import QuantCore

/// Writes a safetensors file in one forward pass: the header first, then each tensor's bytes
/// as the caller produces them, so a model is never held in memory whole.
///
/// The layout is fixed at `init` (a pure value, testable without I/O): tensors are stored in
/// the order given, back to back from offset 0. The header JSON is compact, `__metadata__`
/// first with keys sorted, then tensors in file order, each as dtype, shape, data_offsets,
/// and padded with spaces to a multiple of 8 bytes so the data buffer starts 8-byte aligned;
/// this is byte for byte what the reference implementation writes for the same order.
///
/// Tensors are not reordered for alignment: a tensor after an odd-sized one may start at an
/// odd offset, so readers must load elements with `loadUnaligned`.
public struct SafetensorsWriter: Sendable {
    /// A tensor to be written; its byte count follows from shape and dtype.
    public struct Entry: Hashable, Sendable {
        public var name: String
        public var dtype: ScalarType
        public var shape: [Int]

        public init(name: String, dtype: ScalarType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// Receives each tensor in file order plus `emit`, which the caller calls with the tensor's
    /// bytes, in as many pieces as suits it; together they must be exactly `byteCount` bytes.
    public typealias TensorDataSupplier = (
        _ tensor: SafetensorsTensorInfo, _ emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Void

    /// Tensors in file order with their data ranges, as a reader will see them.
    public let tensors: [SafetensorsTensorInfo]
    public let metadata: [String: String]
    /// The 8-byte length prefix, the JSON and its padding: everything before the data buffer.
    public let headerBytes: [UInt8]

    public var dataStart: Int { headerBytes.count }
    public var fileSize: Int { dataStart + (tensors.last?.dataRange.upperBound ?? 0) }

    public init(entries: [Entry], metadata: [String: String] = [:]) throws(SafetensorsWriterError) {
        var names = Set<String>()
        var tensors: [SafetensorsTensorInfo] = []
        tensors.reserveCapacity(entries.count)
        var offset = 0
        for entry in entries {
            guard entry.name != SafetensorsHeader.metadataKey else { throw .reservedTensorName }
            guard names.insert(entry.name).inserted else { throw .duplicateTensorName(entry.name) }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw .negativeDimension(tensor: entry.name, shape: entry.shape)
            }
            guard let byteCount = SafetensorsTensorInfo.byteCount(shape: entry.shape, dtype: entry.dtype),
                  case (let end, false) = offset.addingReportingOverflow(byteCount)
            else {
                throw .tensorTooLarge(tensor: entry.name, shape: entry.shape)
            }
            tensors.append(SafetensorsTensorInfo(
                name: entry.name, dtype: entry.dtype, shape: entry.shape, dataRange: offset..<end))
            offset = end
        }
        self.tensors = tensors
        self.metadata = metadata
        headerBytes = Self.encodeHeader(tensors: tensors, metadata: metadata)
    }

    /// Writes the file to `output`, which must accept every byte it is given.
    public func write(
        to output: (UnsafeRawBufferPointer) throws -> Void, tensorData: TensorDataSupplier
    ) throws {
        // `emit` must capture `output`; that is sound because neither closure outlives this call.
        try withoutActuallyEscaping(output) { output in
            try headerBytes.withUnsafeBytes { try output($0) }
            for tensor in tensors {
                var supplied = 0
                try tensorData(tensor) { piece in
                    // Checked before writing, so a runaway producer cannot shift the following tensors.
                    guard piece.count <= tensor.byteCount - supplied else {
                        throw SafetensorsWriterError.tensorDataOverrun(
                            tensor: tensor.name, declared: tensor.byteCount, supplied: supplied + piece.count)
                    }
                    supplied += piece.count
                    try output(piece)
                }
                guard supplied == tensor.byteCount else {
                    throw SafetensorsWriterError.tensorDataShort(
                        tensor: tensor.name, declared: tensor.byteCount, supplied: supplied)
                }
            }
        }
    }

    /// Writes the file to an open descriptor at its current position, buffering small pieces.
    /// The caller owns the descriptor: it opens, fsyncs, closes and renames.
    public func write(toFileDescriptor fileDescriptor: Int32, tensorData: TensorDataSupplier) throws {
        var output = FileDescriptorOutput(fileDescriptor: fileDescriptor)
        try write(to: { try output.append($0) }, tensorData: tensorData)
        try output.flush()
    }

    private static func encodeHeader(tensors: [SafetensorsTensorInfo], metadata: [String: String]) -> [UInt8] {
        var json: [UInt8] = []
        json.reserveCapacity(64 + tensors.count * 96)
        json.append(UInt8(ascii: "{"))
        var needsComma = false
        if !metadata.isEmpty {
            appendJSONStringLiteral(SafetensorsHeader.metadataKey, to: &json)
            json.append(contentsOf: Array(":{".utf8))
            for (index, key) in metadata.keys.sorted().enumerated() {
                if index > 0 { json.append(UInt8(ascii: ",")) }
                appendJSONStringLiteral(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendJSONStringLiteral(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            needsComma = true
        }
        for tensor in tensors {
            if needsComma { json.append(UInt8(ascii: ",")) }
            needsComma = true
            appendJSONStringLiteral(tensor.name, to: &json)
            json.append(contentsOf: Array(":{\"dtype\":".utf8))
            appendJSONStringLiteral(tensor.dtype.rawValue, to: &json)
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let offsets = "\(tensor.dataRange.lowerBound),\(tensor.dataRange.upperBound)"
            json.append(contentsOf: Array(",\"shape\":[\(shape)],\"data_offsets\":[\(offsets)]}".utf8))
        }
        json.append(UInt8(ascii: "}"))

        let padding = (8 - json.count % 8) % 8
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        var header = withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init)
        header.append(contentsOf: json)
        return header
    }
}
