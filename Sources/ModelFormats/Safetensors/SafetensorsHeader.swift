import QuantCore

/// The validated header of a safetensors file: which tensors it holds and where their bytes
/// are. A pure value parsed from bytes, so it is tested without files.
///
/// File layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object,
/// possibly padded with trailing spaces), then the data buffer. Each JSON member maps a tensor
/// name to `{"dtype", "shape", "data_offsets": [begin, end]}` with offsets relative to the data
/// buffer; the optional `__metadata__` member maps strings to strings.
public struct SafetensorsHeader: Sendable {
    /// Bounds on what a header may declare, so an upload cannot make the parser allocate
    /// without limit.
    public struct Limits: Sendable {
        /// Largest accepted JSON header, in bytes. The reference implementation caps it at 100 MB.
        public var maxHeaderByteCount: Int

        public init(maxHeaderByteCount: Int = 100 * 1024 * 1024) {
            self.maxHeaderByteCount = maxHeaderByteCount
        }
    }

    /// The reserved member that holds free-form string metadata instead of a tensor.
    static let metadataKey = "__metadata__"

    /// Tensors in the order their bytes appear in the data buffer.
    public let tensors: [SafetensorsTensorInfo]
    /// The `__metadata__` map; empty when the file has none.
    public let metadata: [String: String]
    /// Offset of the data buffer from the start of the file (8 + header length).
    public let dataStart: Int
    /// Size of the data buffer, which the tensors cover exactly.
    public let dataByteCount: Int
    /// Tensor name → index in header order, the table built while checking for duplicates.
    private let headerIndexByName: [String: Int]
    /// Header-order index → position in `tensors`; saves hashing every name a second time.
    private let positionByHeaderIndex: [Int]

    /// Parses and validates the header. `bytes` must hold at least the first 8 + N bytes of
    /// the file (the whole file is fine); `fileSize` is the size of the whole file, which the
    /// tensor offsets are checked against.
    public init(
        parsing bytes: UnsafeRawBufferPointer, fileSize: Int, limits: Limits = Limits()
    ) throws(SafetensorsError) {
        guard bytes.count >= 8, fileSize >= 8 else {
            throw .fileTooSmall(byteCount: min(bytes.count, fileSize))
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(limits.maxHeaderByteCount) else {
            throw .headerLengthExceedsLimit(headerLength: headerLength, limit: limits.maxHeaderByteCount)
        }
        guard headerLength <= UInt64(fileSize - 8) else {
            throw .headerLengthExceedsFile(headerLength: headerLength, fileSize: fileSize)
        }
        dataStart = 8 + Int(headerLength)
        dataByteCount = fileSize - dataStart
        guard bytes.count >= dataStart else {
            throw .headerBytesMissing(required: dataStart, provided: bytes.count)
        }

        var parser = HeaderJSONParser(json: UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]))
        let parsed = try parser.parse()
        metadata = parsed.metadata
        headerIndexByName = parsed.headerIndexByName
        let headerIndices = try Self.validatedLayoutOrder(parsed.tensors, dataByteCount: dataByteCount)
        tensors = headerIndices.map { parsed.tensors[$0] }
        var positionByHeaderIndex = [Int](repeating: 0, count: headerIndices.count)
        for (position, headerIndex) in headerIndices.enumerated() {
            positionByHeaderIndex[headerIndex] = position
        }
        self.positionByHeaderIndex = positionByHeaderIndex
    }

    /// Copies a non-contiguous collection first; contiguous ones (`[UInt8]`, `Data`) parse in place.
    public init(
        parsing bytes: some Collection<UInt8>, fileSize: Int, limits: Limits = Limits()
    ) throws(SafetensorsError) {
        let parsed = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(SafetensorsError) in
                try SafetensorsHeader(parsing: UnsafeRawBufferPointer(buffer), fileSize: fileSize, limits: limits)
            }
        } ?? Array(bytes).withUnsafeBytes { buffer in
            Result { () throws(SafetensorsError) in
                try SafetensorsHeader(parsing: buffer, fileSize: fileSize, limits: limits)
            }
        }
        self = try parsed.get()
    }

    public func tensor(named name: String) -> SafetensorsTensorInfo? {
        headerIndexByName[name].map { tensors[positionByHeaderIndex[$0]] }
    }

    /// Checks each tensor's size and bounds, then that the tensors, sorted by offset, tile the
    /// data buffer exactly: no overlap (two names sharing bytes) and no holes (the format
    /// forbids them, and they would let a file smuggle unchecked bytes). Returns the header
    /// indices of the tensors in offset order.
    private static func validatedLayoutOrder(
        _ tensors: [SafetensorsTensorInfo], dataByteCount: Int
    ) throws(SafetensorsError) -> [Int] {
        for tensor in tensors {
            let range = tensor.dataRange
            guard let required = SafetensorsTensorInfo.byteCount(shape: tensor.shape, dtype: tensor.dtype) else {
                throw .elementCountOverflow(tensor: tensor.name, shape: tensor.shape)
            }
            guard required == range.count else {
                throw .byteCountMismatch(
                    tensor: tensor.name, shape: tensor.shape, dtype: tensor.dtype,
                    required: required, spanned: range.count)
            }
            guard range.upperBound <= dataByteCount else {
                throw .dataOffsetsBeyondFile(tensor: tensor.name, end: range.upperBound, dataByteCount: dataByteCount)
            }
        }

        // The header index in the key keeps ties (empty tensors at one offset) in header order,
        // so the result is deterministic.
        let order = tensors.indices
            .map { (tensors[$0].dataRange.lowerBound, tensors[$0].dataRange.upperBound, $0) }
            .sorted { $0 < $1 }
            .map(\.2)

        var covered = 0
        var previous: SafetensorsTensorInfo?
        for tensor in order.lazy.map({ tensors[$0] }) {
            let range = tensor.dataRange
            if range.lowerBound < covered, let previous {
                throw .overlappingTensors(
                    first: previous.name, firstRange: previous.dataRange,
                    second: tensor.name, secondRange: range)
            }
            if range.lowerBound > covered {
                throw .uncoveredBytes(range: covered..<range.lowerBound, after: previous?.name, before: tensor.name)
            }
            covered = range.upperBound
            previous = tensor
        }
        if covered < dataByteCount {
            throw .uncoveredBytes(range: covered..<dataByteCount, after: previous?.name, before: nil)
        }
        return order
    }
}

/// Reads the header JSON into tensor entries, rejecting anything the format does not allow.
/// Offsets in syntax errors are converted to file offsets (JSON starts at file byte 8).
private struct HeaderJSONParser {
    private var scanner: JSONScanner

    init(json: UnsafeRawBufferPointer) {
        scanner = JSONScanner(json)
    }

    /// Tensors in header order, the index of each name, and the metadata.
    typealias Parsed = (tensors: [SafetensorsTensorInfo], headerIndexByName: [String: Int], metadata: [String: String])

    mutating func parse() throws(SafetensorsError) -> Parsed {
        do {
            return try parseTopLevel()
        } catch let error as JSONSyntaxError {
            throw .invalidHeaderJSON(fileOffset: 8 + error.offset, reason: error.reason)
        } catch let error as SafetensorsError {
            throw error
        } catch {
            preconditionFailure("header parsing throws only JSONSyntaxError or SafetensorsError, got \(error)")
        }
    }

    private mutating func parseTopLevel() throws -> Parsed {
        // The format requires '{' as the very first byte, so leading whitespace is rejected too.
        let firstKind = scanner.peekValueKind()
        guard scanner.offset == 0, firstKind == .object else {
            throw SafetensorsError.headerNotAnObject(
                found: scanner.offset != 0 ? "leading whitespace" : firstKind?.rawValue ?? "no JSON value")
        }
        var tensors: [SafetensorsTensorInfo] = []
        var headerIndexByName: [String: Int] = [:]
        // Entries written by common exporters take about 100 bytes; reserving for that skips
        // most rehashing of a large table without over-allocating for small headers.
        headerIndexByName.reserveCapacity(scanner.byteCount / 100)
        var metadata: [String: String]?
        try scanner.beginObject()
        while let key = try scanner.nextMemberKey() {
            if key == SafetensorsHeader.metadataKey {
                guard metadata == nil else { throw SafetensorsError.duplicateMetadataSection }
                metadata = try parseMetadata()
            } else {
                guard headerIndexByName.updateValue(tensors.count, forKey: key) == nil else {
                    throw SafetensorsError.duplicateTensorName(key)
                }
                tensors.append(try parseTensorEntry(named: key))
            }
        }
        // Trailing padding (spaces in practice) is allowed; anything else is not.
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.error("unexpected data after the header object") }
        return (tensors, headerIndexByName, metadata ?? [:])
    }

    private mutating func parseMetadata() throws -> [String: String] {
        let kind = scanner.peekValueKind()
        guard kind == .object else {
            throw SafetensorsError.metadataNotAnObject(found: kind?.rawValue ?? "not a JSON value")
        }
        var metadata: [String: String] = [:]
        try scanner.beginObject()
        while let key = try scanner.nextMemberKey() {
            let valueKind = scanner.peekValueKind()
            guard valueKind == .string else {
                throw SafetensorsError.metadataValueNotString(key: key, found: valueKind?.rawValue ?? "not a JSON value")
            }
            guard metadata.updateValue(try scanner.readString(), forKey: key) == nil else {
                throw SafetensorsError.duplicateMetadataKey(key)
            }
        }
        return metadata
    }

    private mutating func parseTensorEntry(named name: String) throws -> SafetensorsTensorInfo {
        let kind = scanner.peekValueKind()
        guard kind == .object else {
            throw SafetensorsError.tensorEntryNotAnObject(tensor: name, found: kind?.rawValue ?? "not a JSON value")
        }
        var dtype: ScalarType?
        var shape: [Int]?
        var offsets: Range<Int>?
        try scanner.beginObject()
        while let field = try scanner.nextMemberKey() {
            switch field {
            case "dtype":
                guard dtype == nil else { throw SafetensorsError.duplicateTensorField(tensor: name, field: field) }
                try expect(.string, tensor: name, field: field)
                let spelling = try scanner.readString()
                guard let parsed = ScalarType(rawValue: spelling) else {
                    throw SafetensorsError.unknownDType(tensor: name, dtype: spelling)
                }
                dtype = parsed
            case "shape":
                guard shape == nil else { throw SafetensorsError.duplicateTensorField(tensor: name, field: field) }
                shape = try parseShape(tensor: name)
            case "data_offsets":
                guard offsets == nil else { throw SafetensorsError.duplicateTensorField(tensor: name, field: field) }
                offsets = try parseDataOffsets(tensor: name)
            default:
                throw SafetensorsError.unknownTensorField(tensor: name, field: field)
            }
        }
        guard let dtype else { throw SafetensorsError.missingTensorField(tensor: name, field: "dtype") }
        guard let shape else { throw SafetensorsError.missingTensorField(tensor: name, field: "shape") }
        guard let offsets else { throw SafetensorsError.missingTensorField(tensor: name, field: "data_offsets") }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: offsets)
    }

    private mutating func parseShape(tensor: String) throws -> [Int] {
        try expect(.array, tensor: tensor, field: "shape")
        var shape: [Int] = []
        try scanner.beginArray()
        while try scanner.hasNextElement() {
            let index = shape.count
            try expect(.number, tensor: tensor, field: "shape[\(index)]", expected: "an integer")
            let number = try scanner.readNumber()
            guard let dimension = number.exactInteger else {
                throw SafetensorsError.nonIntegerDimension(tensor: tensor, index: index, literal: number.literal)
            }
            guard dimension >= 0 else {
                throw SafetensorsError.negativeDimension(tensor: tensor, index: index, literal: number.literal)
            }
            shape.append(dimension)
        }
        return shape
    }

    private mutating func parseDataOffsets(tensor: String) throws -> Range<Int> {
        try expect(.array, tensor: tensor, field: "data_offsets")
        var (begin, end, count) = (0, 0, 0)
        try scanner.beginArray()
        while try scanner.hasNextElement() {
            try expect(.number, tensor: tensor, field: "data_offsets[\(count)]", expected: "an integer")
            let number = try scanner.readNumber()
            guard let offset = number.exactInteger, offset >= 0 else {
                throw SafetensorsError.invalidDataOffset(tensor: tensor, literal: number.literal)
            }
            (begin, end) = count == 0 ? (offset, end) : (begin, offset)
            count += 1
        }
        guard count == 2 else { throw SafetensorsError.dataOffsetsNotAPair(tensor: tensor, count: count) }
        guard begin <= end else { throw SafetensorsError.dataOffsetsReversed(tensor: tensor, begin: begin, end: end) }
        return begin..<end
    }

    /// `field` is an autoclosure because it is interpolated per dimension and needed only on failure.
    private mutating func expect(
        _ kind: JSONScanner.ValueKind, tensor: String, field: @autoclosure () -> String, expected: String? = nil
    ) throws {
        let found = scanner.peekValueKind()
        guard found == kind else {
            throw SafetensorsError.tensorFieldWrongType(
                tensor: tensor, field: field(), expected: expected ?? kind.rawValue,
                found: found?.rawValue ?? "not a JSON value")
        }
    }
}
