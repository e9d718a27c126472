import Testing
import QuantCore
import ModelFormats

@Suite struct SafetensorsFileTests {
    @Test func roundTripsEveryDTypeScalarsEmptyTensorsAndMetadata() throws {
        var entries: [SafetensorsWriter.Entry] = []
        for dtype in ScalarType.allCases {
            let name = dtype.rawValue.lowercased()
            entries.append(.init(name: name + ".matrix", dtype: dtype, shape: [3, 5]))
            entries.append(.init(name: name + ".scalar", dtype: dtype, shape: []))
            entries.append(.init(name: name + ".empty", dtype: dtype, shape: [0]))
            entries.append(.init(name: name + ".empty2d", dtype: dtype, shape: [4, 0]))
        }
        let metadata = ["format": "pt", "source": "quantd tests ✓"]
        let writer = try SafetensorsWriter(entries: entries, metadata: metadata)
        func content(of tensor: SafetensorsTensorInfo) -> [UInt8] {
            (0..<tensor.byteCount).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ tensor.name.utf8.count) }
        }

        try withTemporaryDirectory { directory in
            let path = directory + "/model.safetensors"
            try withOutputFile(path) { descriptor in
                try writer.write(toFileDescriptor: descriptor) { tensor, emit in
                    try content(of: tensor).withUnsafeBytes { try emit($0) }
                }
            }

            let file = try SafetensorsFile(path: path)
            #expect(file.path == path)
            #expect(file.metadata == metadata)
            #expect(file.tensors == writer.tensors)
            #expect(file.header.dataStart == writer.dataStart)
            for tensor in file.tensors {
                #expect(file.withTensorBytes(tensor) { Array($0) } == content(of: tensor), "\(tensor.name)")
            }
            let scalar = try #require(file.tensor(named: "f64.scalar"))
            #expect(scalar.shape == [] && scalar.byteCount == 8)
            #expect(try file.withTensorBytes(named: "i16.matrix") { $0.count } == 30)
        }
    }

    @Test func tensorBytesPointIntoTheMappingWithoutCopies() throws {
        let writer = try SafetensorsWriter(entries: [.init(name: "a", dtype: .uint8, shape: [3]), .init(name: "b", dtype: .uint8, shape: [2])])
        try withTemporaryDirectory { directory in
            let path = directory + "/model.safetensors"
            try withOutputFile(path) { descriptor in
                try writer.write(toFileDescriptor: descriptor) { tensor, emit in
                    try [UInt8](repeating: 1, count: tensor.byteCount).withUnsafeBytes { try emit($0) }
                }
            }
            let file = try SafetensorsFile(path: path)
            let a = file.withTensorBytes(file.tensors[0]) { $0.baseAddress! }
            let b = file.withTensorBytes(file.tensors[1]) { $0.baseAddress! }
            #expect(b - a == 3)
        }
    }

    @Test func missingTensorNameIsReported() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/empty-model.safetensors"
            try writeFile(safetensorsBytes(json: "{}"), to: path)
            let file = try SafetensorsFile(path: path)
            #expect(file.tensors.isEmpty)
            #expect(throws: SafetensorsError.tensorNotFound("w")) {
                try file.withTensorBytes(named: "w") { $0.count }
            }
        }
    }

    @Test(arguments: [[], [0x10, 0, 0]] as [[UInt8]])
    func rejectsFilesShorterThanTheLengthPrefix(bytes: [UInt8]) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/short.safetensors"
            try writeFile(bytes, to: path)
            #expect(throws: SafetensorsError.fileTooSmall(byteCount: bytes.count)) {
                try SafetensorsFile(path: path)
            }
        }
    }

    @Test func reportsCorruptContentAsSafetensorsError() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/truncated.safetensors"
            try writeFile(safetensorsBytes(json: "{" + tensorJSON("a", "F32", [4], 0, 16) + "}", dataByteCount: 7), to: path)
            #expect(throws: SafetensorsError.dataOffsetsBeyondFile(tensor: "a", end: 16, dataByteCount: 7)) {
                try SafetensorsFile(path: path)
            }
        }
    }

    @Test func reportsUnreadablePathsAsFileAccessError() throws {
        try withTemporaryDirectory { directory in
            #expect(throws: FileAccessError.systemCall("open", path: directory + "/nope", errno: 2)) {
                try SafetensorsFile(path: directory + "/nope")
            }
            #expect(throws: FileAccessError.notARegularFile(path: directory)) {
                try SafetensorsFile(path: directory)
            }
        }
    }
}
