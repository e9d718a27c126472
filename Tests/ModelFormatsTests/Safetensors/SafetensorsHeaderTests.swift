import Testing
import QuantCore
@testable import ModelFormats

@Suite struct SafetensorsHeaderTests {
    // MARK: Valid headers

    @Test func parsesTensorsMetadataAndDataStart() throws {
        let json = "{" + #""__metadata__":{"format":"pt","note":"é"},"#
            + tensorJSON("w", "F16", [3, 4], 0, 24) + "," + tensorJSON("s", "I8", [], 24, 25) + "}"
        let bytes = safetensorsBytes(json: json, dataByteCount: 25)
        let header = try SafetensorsHeader(parsing: bytes, fileSize: bytes.count)

        #expect(header.dataStart == 8 + json.utf8.count)
        #expect(header.dataByteCount == 25)
        #expect(header.metadata == ["format": "pt", "note": "é"])
        #expect(header.tensors == [
            SafetensorsTensorInfo(name: "w", dtype: .float16, shape: [3, 4], dataRange: 0..<24),
            SafetensorsTensorInfo(name: "s", dtype: .int8, shape: [], dataRange: 24..<25),
        ])
        #expect(header.tensor(named: "s")?.elementCount == 1)
        #expect(header.tensor(named: "missing") == nil)
    }

    @Test func listsTensorsInOffsetOrderNotHeaderOrder() throws {
        let json = "{" + [
            tensorJSON("c", "U8", [2], 3, 5), tensorJSON("empty2", "F32", [0], 3, 3),
            tensorJSON("a", "U8", [3], 0, 3), tensorJSON("empty1", "F32", [2, 0], 3, 3),
        ].joined(separator: ",") + "}"
        let bytes = safetensorsBytes(json: json, dataByteCount: 5)
        let header = try SafetensorsHeader(parsing: bytes, fileSize: bytes.count)
        // Empty tensors sharing an offset keep their header order.
        #expect(header.tensors.map(\.name) == ["a", "empty2", "empty1", "c"])
    }

    @Test func acceptsAnEmptyHeaderAndTrailingPadding() throws {
        let empty = safetensorsBytes(json: "{}")
        #expect(try SafetensorsHeader(parsing: empty, fileSize: empty.count).tensors.isEmpty)

        let padded = safetensorsBytes(json: "{" + tensorJSON("a", "BOOL", [1], 0, 1) + "}      ", dataByteCount: 1)
        #expect(try SafetensorsHeader(parsing: padded, fileSize: padded.count).tensors.map(\.name) == ["a"])
    }

    @Test func parsesFromAHeaderPrefixWithoutTheData() throws {
        let json = "{" + tensorJSON("a", "F64", [1000], 0, 8000) + "}"
        let prefix = safetensorsBytes(json: json)
        let header = try SafetensorsHeader(parsing: prefix, fileSize: prefix.count + 8000)
        #expect(header.tensors.first?.dataRange == 0..<8000)
    }

    @Test func parsesNonContiguousCollections() throws {
        let bytes = safetensorsBytes(json: "{" + tensorJSON("a", "U16", [2], 0, 4) + "}", dataByteCount: 4)
        let header = try SafetensorsHeader(parsing: bytes.lazy.map { $0 }, fileSize: bytes.count)
        #expect(header.tensors.map(\.name) == ["a"])
    }

    @Test func acceptsEveryDType() throws {
        var offset = 0
        var entries: [String] = []
        for dtype in ScalarType.allCases {
            entries.append(tensorJSON(dtype.rawValue.lowercased(), dtype.rawValue, [2], offset, offset + 2 * dtype.byteWidth))
            offset += 2 * dtype.byteWidth
        }
        let bytes = safetensorsBytes(json: "{" + entries.joined(separator: ",") + "}", dataByteCount: offset)
        let header = try SafetensorsHeader(parsing: bytes, fileSize: bytes.count)
        #expect(header.tensors.map(\.dtype) == ScalarType.allCases)
    }

    // MARK: Corrupt inputs

    struct CorruptFile: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        var fileSize: Int?
        var limits = SafetensorsHeader.Limits()
        let expected: SafetensorsError
        var testDescription: String { name }

        init(_ name: String, json: String, data: Int = 0, expected: SafetensorsError) {
            self.name = name
            bytes = safetensorsBytes(json: json, dataByteCount: data)
            self.expected = expected
        }

        init(_ name: String, bytes: [UInt8], fileSize: Int? = nil,
             limits: SafetensorsHeader.Limits = .init(), expected: SafetensorsError) {
            self.name = name
            self.bytes = bytes
            self.fileSize = fileSize
            self.limits = limits
            self.expected = expected
        }
    }

    static let corruptFiles: [CorruptFile] = [
        // Framing
        CorruptFile("empty file", bytes: [], expected: .fileTooSmall(byteCount: 0)),
        CorruptFile("file under 8 bytes", bytes: [1, 0, 0], expected: .fileTooSmall(byteCount: 3)),
        CorruptFile("header length beyond file", bytes: safetensorsBytes(json: "{}", declaredLength: 1000),
                    expected: .headerLengthExceedsFile(headerLength: 1000, fileSize: 10)),
        CorruptFile("header length beyond configured limit",
                    bytes: safetensorsBytes(json: "{}" + String(repeating: " ", count: 30)),
                    limits: .init(maxHeaderByteCount: 16),
                    expected: .headerLengthExceedsLimit(headerLength: 32, limit: 16)),
        CorruptFile("header length beyond default limit of 100 MiB",
                    bytes: safetensorsBytes(json: "{}", declaredLength: 1 << 40), fileSize: 1 << 41,
                    expected: .headerLengthExceedsLimit(headerLength: 1 << 40, limit: 100 * 1024 * 1024)),
        CorruptFile("header length of 2^64 - 1", bytes: safetensorsBytes(json: "{}", declaredLength: .max),
                    expected: .headerLengthExceedsLimit(headerLength: .max, limit: 100 * 1024 * 1024)),
        CorruptFile("prefix shorter than the declared header", bytes: Array(safetensorsBytes(json: "{}    ")[..<12]),
                    fileSize: 100, expected: .headerBytesMissing(required: 14, provided: 12)),

        // JSON syntax and shape
        CorruptFile("bad JSON", json: #"{"a" 1}"#,
                    expected: .invalidHeaderJSON(fileOffset: 13, reason: "expected ':' after object key")),
        CorruptFile("truncated JSON", json: #"{"a":{"dtype":"F32""#,
                    expected: .invalidHeaderJSON(fileOffset: 27, reason: "unexpected end of JSON, expected ',' or '}'")),
        CorruptFile("text after the object", json: "{} x",
                    expected: .invalidHeaderJSON(fileOffset: 11, reason: "unexpected data after the header object")),
        CorruptFile("tensor name not UTF-8", bytes: safetensorsBytes(json: "{\"\u{FFFF}\":1}").map { $0 == 0xEF ? 0xFF : $0 },
                    expected: .invalidHeaderJSON(fileOffset: 10, reason: "string is not valid UTF-8")),
        CorruptFile("JSON array instead of object", json: "[1, 2]", expected: .headerNotAnObject(found: "an array")),
        CorruptFile("JSON string instead of object", json: #""{}""#, expected: .headerNotAnObject(found: "a string")),
        CorruptFile("empty header", json: "", expected: .headerNotAnObject(found: "no JSON value")),
        CorruptFile("header starting with whitespace", json: " {}", expected: .headerNotAnObject(found: "leading whitespace")),

        // Names and metadata
        CorruptFile("duplicate tensor name",
                    json: "{" + tensorJSON("a", "U8", [1], 0, 1) + "," + tensorJSON("a", "U8", [1], 1, 2) + "}", data: 2,
                    expected: .duplicateTensorName("a")),
        CorruptFile("duplicate __metadata__", json: #"{"__metadata__":{},"__metadata__":{}}"#,
                    expected: .duplicateMetadataSection),
        CorruptFile("duplicate metadata key", json: #"{"__metadata__":{"k":"1","k":"2"}}"#,
                    expected: .duplicateMetadataKey("k")),
        CorruptFile("metadata value not a string", json: #"{"__metadata__":{"epoch":1}}"#,
                    expected: .metadataValueNotString(key: "epoch", found: "a number")),
        CorruptFile("metadata value null", json: #"{"__metadata__":{"epoch":null}}"#,
                    expected: .metadataValueNotString(key: "epoch", found: "null")),
        CorruptFile("metadata not an object", json: #"{"__metadata__":["a"]}"#,
                    expected: .metadataNotAnObject(found: "an array")),

        // One tensor entry
        CorruptFile("tensor entry not an object", json: #"{"a":[1]}"#,
                    expected: .tensorEntryNotAnObject(tensor: "a", found: "an array")),
        CorruptFile("missing data_offsets", json: #"{"a":{"dtype":"F32","shape":[]}}"#,
                    expected: .missingTensorField(tensor: "a", field: "data_offsets")),
        CorruptFile("unknown field", json: #"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"scale":1}}"#, data: 4,
                    expected: .unknownTensorField(tensor: "a", field: "scale")),
        CorruptFile("duplicate field", json: #"{"a":{"dtype":"F32","dtype":"F16"}}"#,
                    expected: .duplicateTensorField(tensor: "a", field: "dtype")),
        CorruptFile("dtype not a string", json: #"{"a":{"dtype":4}}"#,
                    expected: .tensorFieldWrongType(tensor: "a", field: "dtype", expected: "a string", found: "a number")),
        CorruptFile("unknown dtype", json: "{" + tensorJSON("a", "Q4_0", [2], 0, 1) + "}", data: 1,
                    expected: .unknownDType(tensor: "a", dtype: "Q4_0")),
        CorruptFile("shape not an array", json: #"{"a":{"shape":"3x4"}}"#,
                    expected: .tensorFieldWrongType(tensor: "a", field: "shape", expected: "an array", found: "a string")),
        CorruptFile("dimension not a number", json: #"{"a":{"shape":[2,"3"]}}"#,
                    expected: .tensorFieldWrongType(tensor: "a", field: "shape[1]", expected: "an integer", found: "a string")),
        CorruptFile("negative dimension", json: "{" + tensorJSON("a", "U8", [2, -1], 0, 0) + "}",
                    expected: .negativeDimension(tensor: "a", index: 1, literal: "-1")),
        CorruptFile("fractional dimension", json: #"{"a":{"shape":[1.5]}}"#,
                    expected: .nonIntegerDimension(tensor: "a", index: 0, literal: "1.5")),
        CorruptFile("exponent dimension", json: #"{"a":{"shape":[1e3]}}"#,
                    expected: .nonIntegerDimension(tensor: "a", index: 0, literal: "1e3")),
        CorruptFile("dimension beyond Int", json: #"{"a":{"shape":[99999999999999999999]}}"#,
                    expected: .nonIntegerDimension(tensor: "a", index: 0, literal: "99999999999999999999")),
        CorruptFile("element count overflow [2^40, 2^40]", json: "{" + tensorJSON("a", "F32", [1 << 40, 1 << 40], 0, 4) + "}", data: 4,
                    expected: .elementCountOverflow(tensor: "a", shape: [1 << 40, 1 << 40])),
        CorruptFile("byte count overflow [2^62] × F32", json: "{" + tensorJSON("a", "F32", [1 << 62], 0, 4) + "}", data: 4,
                    expected: .elementCountOverflow(tensor: "a", shape: [1 << 62])),
        CorruptFile("overflow before a zero dimension", json: "{" + tensorJSON("a", "U8", [1 << 62, 1 << 62, 0], 0, 0) + "}",
                    expected: .elementCountOverflow(tensor: "a", shape: [1 << 62, 1 << 62, 0])),
        CorruptFile("data_offsets with three elements", json: #"{"a":{"data_offsets":[0,1,2]}}"#,
                    expected: .dataOffsetsNotAPair(tensor: "a", count: 3)),
        CorruptFile("negative data offset", json: #"{"a":{"data_offsets":[-4,0]}}"#,
                    expected: .invalidDataOffset(tensor: "a", literal: "-4")),
        CorruptFile("data offsets end before they begin", json: "{" + tensorJSON("a", "U8", [0], 8, 0) + "}", data: 8,
                    expected: .dataOffsetsReversed(tensor: "a", begin: 8, end: 0)),
        CorruptFile("shape × dtype differs from span", json: "{" + tensorJSON("x.weight", "F16", [3, 4], 0, 20) + "}", data: 20,
                    expected: .byteCountMismatch(tensor: "x.weight", shape: [3, 4], dtype: .float16, required: 24, spanned: 20)),

        // Layout of the data buffer
        CorruptFile("truncated data", json: "{" + tensorJSON("a", "F32", [4], 0, 16) + "}", data: 10,
                    expected: .dataOffsetsBeyondFile(tensor: "a", end: 16, dataByteCount: 10)),
        CorruptFile("offsets far out of bounds",
                    json: "{" + tensorJSON("a", "U8", [4], 0, 4) + "," + tensorJSON("b", "U8", [4], 1000, 1004) + "}", data: 4,
                    expected: .dataOffsetsBeyondFile(tensor: "b", end: 1004, dataByteCount: 4)),
        CorruptFile("overlapping offsets",
                    json: "{" + tensorJSON("a", "F32", [2], 0, 8) + "," + tensorJSON("b", "F32", [2], 4, 12) + "}", data: 12,
                    expected: .overlappingTensors(first: "a", firstRange: 0..<8, second: "b", secondRange: 4..<12)),
        CorruptFile("identical offsets",
                    json: "{" + tensorJSON("a", "F32", [2], 0, 8) + "," + tensorJSON("b", "I32", [2], 0, 8) + "}", data: 8,
                    expected: .overlappingTensors(first: "a", firstRange: 0..<8, second: "b", secondRange: 0..<8)),
        CorruptFile("hole between tensors",
                    json: "{" + tensorJSON("a", "F32", [2], 0, 8) + "," + tensorJSON("b", "F32", [2], 12, 20) + "}", data: 20,
                    expected: .uncoveredBytes(range: 8..<12, after: "a", before: "b")),
        CorruptFile("hole before the first tensor", json: "{" + tensorJSON("a", "U8", [2], 2, 4) + "}", data: 4,
                    expected: .uncoveredBytes(range: 0..<2, after: nil, before: "a")),
        CorruptFile("bytes after the last tensor", json: "{" + tensorJSON("a", "U8", [2], 0, 2) + "}", data: 5,
                    expected: .uncoveredBytes(range: 2..<5, after: "a", before: nil)),
        CorruptFile("data but no tensors", json: "{}", data: 3,
                    expected: .uncoveredBytes(range: 0..<3, after: nil, before: nil)),
    ]

    @Test(arguments: corruptFiles)
    func rejectsCorruptFile(_ file: CorruptFile) {
        #expect(throws: file.expected) {
            try SafetensorsHeader(parsing: file.bytes, fileSize: file.fileSize ?? file.bytes.count, limits: file.limits)
        }
    }

    // MARK: Performance

    @Test func parsesA200kTensorHeaderQuickly() throws {
        let count = 200_000
        var json = "{"
        json.reserveCapacity(count * 90)
        for index in 0..<count {
            if index > 0 { json += "," }
            json += tensorJSON("model.layers.\(index / 10).mlp.proj_\(index % 10).weight", "F16", [2, 3], index * 12, index * 12 + 12)
        }
        json += "}"
        let prefix = safetensorsBytes(json: json)
        let clock = ContinuousClock()
        var header: SafetensorsHeader?
        let elapsed = try clock.measure {
            header = try SafetensorsHeader(parsing: prefix, fileSize: prefix.count + count * 12)
        }
        #expect(header?.tensors.count == count)
        // Release builds parse this 20 MB header in about 0.25 s; debug builds are several times slower.
        #if DEBUG
        let limit = Duration.seconds(10)
        #else
        let limit = Duration.seconds(1)
        #endif
        #expect(elapsed < limit, "parsing \(prefix.count) header bytes took \(elapsed)")
    }
}
