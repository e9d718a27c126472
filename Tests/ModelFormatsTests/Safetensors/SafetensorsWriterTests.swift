import Testing
import QuantCore
@testable import ModelFormats

@Suite struct SafetensorsWriterTests {
    /// Writes to memory, supplying each tensor from `data` in pieces of at most `pieceSize` bytes.
    private func writtenBytes(
        _ writer: SafetensorsWriter, data: [String: [UInt8]], pieceSize: Int = .max
    ) throws -> [UInt8] {
        var output: [UInt8] = []
        try writer.write(to: { output.append(contentsOf: $0) }) { tensor, emit in
            let bytes = data[tensor.name] ?? []
            for start in stride(from: 0, to: bytes.count, by: pieceSize) {
                try bytes[start..<min(start + pieceSize, bytes.count)].withUnsafeBytes { try emit($0) }
            }
        }
        return output
    }

    @Test func headerMatchesThePythonReferenceByteForByte() throws {
        // Produced by safetensors 0.6.2: save({"a": f32[2,3], "b\"q\\é\n": f16[3], "s": i8 scalar,
        // "z": u8[0]}, metadata={"format": "pt"}), an order the reference keeps (by dtype size, then name).
        let reference = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"#
            + #""b\"q\\é\n":{"dtype":"F16","shape":[3],"data_offsets":[24,30]},"#
            + #""s":{"dtype":"I8","shape":[],"data_offsets":[30,31]},"z":{"dtype":"U8","shape":[0],"data_offsets":[31,31]}}     "#
        let writer = try SafetensorsWriter(entries: [
            .init(name: "a", dtype: .float32, shape: [2, 3]),
            .init(name: "b\"q\\é\n", dtype: .float16, shape: [3]),
            .init(name: "s", dtype: .int8, shape: []),
            .init(name: "z", dtype: .uint8, shape: [0]),
        ], metadata: ["format": "pt"])
        #expect(writer.headerBytes == [8, 1, 0, 0, 0, 0, 0, 0] + Array(reference.utf8))
        #expect(writer.dataStart == 272)
        #expect(writer.fileSize == 272 + 31)
    }

    @Test func padsTheHeaderSoDataStartsEightByteAligned() throws {
        for nameLength in 1...16 {
            let writer = try SafetensorsWriter(entries: [.init(name: String(repeating: "n", count: nameLength), dtype: .uint8, shape: [1])])
            #expect(writer.dataStart % 8 == 0)
            #expect(writer.headerBytes.last == UInt8(ascii: " ") || writer.headerBytes.last == UInt8(ascii: "}"))
        }
    }

    @Test func sortsMetadataKeysAndKeepsTensorOrder() throws {
        let writer = try SafetensorsWriter(
            entries: [.init(name: "z", dtype: .uint8, shape: [1]), .init(name: "a", dtype: .uint8, shape: [1])],
            metadata: ["b": "2", "a": "1"])
        let json = String(decoding: writer.headerBytes.dropFirst(8), as: UTF8.self)
        #expect(json.hasPrefix(#"{"__metadata__":{"a":"1","b":"2"},"z":"#))
        #expect(writer.tensors.map(\.dataRange) == [0..<1, 1..<2])
    }

    @Test func writtenFileParsesBackWithTheSameLayoutAndData() throws {
        let names = ["plain", "quote\"d", "back\\slash", "日本語", "tab\there", "", "emoji 😀"]
        let entries = names.enumerated().map { index, name in
            SafetensorsWriter.Entry(name: name, dtype: .uint16, shape: [index + 1])
        }
        let writer = try SafetensorsWriter(entries: entries, metadata: ["quote\"": "line\nbreak"])
        let data = Dictionary(uniqueKeysWithValues: writer.tensors.map { tensor in
            (tensor.name, (0..<tensor.byteCount).map { UInt8(truncatingIfNeeded: $0 * 7 + tensor.name.utf8.count) })
        })
        let bytes = try writtenBytes(writer, data: data, pieceSize: 3)
        #expect(bytes.count == writer.fileSize)

        let header = try SafetensorsHeader(parsing: bytes, fileSize: bytes.count)
        #expect(header.tensors == writer.tensors)
        #expect(header.metadata == ["quote\"": "line\nbreak"])
        for tensor in header.tensors {
            let range = (header.dataStart + tensor.dataRange.lowerBound)..<(header.dataStart + tensor.dataRange.upperBound)
            #expect(Array(bytes[range]) == data[tensor.name])
        }
    }

    @Test func writesAnEmptyModel() throws {
        let writer = try SafetensorsWriter(entries: [])
        let bytes = try writtenBytes(writer, data: [:])
        #expect(bytes == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        #expect(try SafetensorsHeader(parsing: bytes, fileSize: bytes.count).tensors.isEmpty)
    }

    @Test func rejectsTooManyBytesBeforeWritingThem() throws {
        let writer = try SafetensorsWriter(entries: [.init(name: "a", dtype: .float32, shape: [2])])
        var written = 0
        #expect(throws: SafetensorsWriterError.tensorDataOverrun(tensor: "a", declared: 8, supplied: 12)) {
            try writer.write(to: { written += $0.count }) { _, emit in
                try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try emit($0) }
                try [UInt8](repeating: 0, count: 8).withUnsafeBytes { try emit($0) }
            }
        }
        #expect(written == writer.dataStart + 4)
    }

    @Test func rejectsTooFewBytes() throws {
        let writer = try SafetensorsWriter(entries: [.init(name: "a", dtype: .float32, shape: [2]), .init(name: "b", dtype: .int8, shape: [])])
        #expect(throws: SafetensorsWriterError.tensorDataShort(tensor: "a", declared: 8, supplied: 5)) {
            _ = try writtenBytes(writer, data: ["a": [1, 2, 3, 4, 5], "b": [1]])
        }
    }

    @Test func passesCallerErrorsThrough() throws {
        struct ProducerFailed: Error {}
        let writer = try SafetensorsWriter(entries: [.init(name: "a", dtype: .int8, shape: [1])])
        #expect(throws: ProducerFailed.self) {
            try writer.write(to: { _ in }) { _, _ in throw ProducerFailed() }
        }
    }

    @Test func rejectsEntriesThatCannotFormAFile() {
        #expect(throws: SafetensorsWriterError.reservedTensorName) {
            try SafetensorsWriter(entries: [.init(name: "__metadata__", dtype: .int8, shape: [])])
        }
        #expect(throws: SafetensorsWriterError.duplicateTensorName("a")) {
            try SafetensorsWriter(entries: [.init(name: "a", dtype: .int8, shape: []), .init(name: "a", dtype: .int8, shape: [])])
        }
        #expect(throws: SafetensorsWriterError.negativeDimension(tensor: "a", shape: [2, -1])) {
            try SafetensorsWriter(entries: [.init(name: "a", dtype: .int8, shape: [2, -1])])
        }
        #expect(throws: SafetensorsWriterError.tensorTooLarge(tensor: "a", shape: [1 << 40, 1 << 40])) {
            try SafetensorsWriter(entries: [.init(name: "a", dtype: .int8, shape: [1 << 40, 1 << 40])])
        }
        #expect(throws: SafetensorsWriterError.tensorTooLarge(tensor: "b", shape: [1 << 62])) {
            try SafetensorsWriter(entries: [.init(name: "a", dtype: .int8, shape: [1 << 62]), .init(name: "b", dtype: .int8, shape: [1 << 62])])
        }
    }

    @Test func writesToAFileDescriptorInMixedPieceSizes() throws {
        // 3 MiB tensor: larger than the output buffer, so both the buffered and direct paths run.
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let writer = try SafetensorsWriter(entries: [
            .init(name: "small", dtype: .uint8, shape: [5]),
            .init(name: "big", dtype: .uint8, shape: [big.count]),
            .init(name: "tail", dtype: .int32, shape: [1]),
        ])
        let data: [String: [UInt8]] = ["small": [1, 2, 3, 4, 5], "big": big, "tail": [9, 9, 9, 9]]
        try withTemporaryDirectory { directory in
            let path = directory + "/model.safetensors"
            try withOutputFile(path) { descriptor in
                try writer.write(toFileDescriptor: descriptor) { tensor, emit in
                    let bytes = data[tensor.name]!
                    // Uneven pieces: one tiny, then the rest in one go.
                    try bytes[..<1].withUnsafeBytes { try emit($0) }
                    try bytes[1...].withUnsafeBytes { try emit($0) }
                }
            }
            #expect(try readFile(path) == (try writtenBytes(writer, data: data)))
        }
    }
}
