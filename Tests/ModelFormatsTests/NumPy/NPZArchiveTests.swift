import Execution
import Foundation
import Testing
@testable import ModelFormats

/// The reader against files NumPy itself writes (np.savez, np.savez_compressed), made at test time.
@Suite struct NPZArchiveTests {
    static let grid = (0..<24).map { Float($0) / 8 }

    static let directory = Result { () throws -> String in
        let directory = NSTemporaryDirectory() + "quantd-npz-" + UUID().uuidString
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FixturePackages.python)
        process.arguments = [FixturePackages.repository + "/Tests/oracle/fixtures/make_npz_files.py", directory]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFileError(call: "make_npz_files.py") }
        return directory
    }

    func withArchive<R>(_ file: String, _ body: (NPZArchive, UnsafeRawBufferPointer) throws -> R) throws -> R {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try Self.directory.get() + "/" + file))
        return try bytes.withUnsafeBytes { raw in try body(try NPZArchive(parsing: raw), raw) }
    }

    @Test func readsEveryArrayOfAStoredArchiveInOrder() throws {
        try withArchive("stored.npz") { archive, bytes in
            #expect(archive.arrays.map(\.name) == ["x", "ids", "mask"])
            #expect(archive.arrays[0].shape == [2, 3, 4])
            #expect(archive.arrays[0].elementType == .float32)
            #expect(archive.tensor(of: archive.arrays[0], in: bytes) == ConstantTensor(shape: [2, 3, 4], elements: .float32(Self.grid)))
            #expect(archive.tensor(of: archive.arrays[1], in: bytes) == ConstantTensor(shape: [2, 2], elements: .int64([1, -2, 3, 4])))
            #expect(archive.tensor(of: archive.arrays[2], in: bytes) == ConstantTensor(shape: [3], elements: .bool([true, false, true])))
        }
    }

    @Test func inflatesACompressedArchive() throws {
        try withArchive("deflated.npz") { archive, bytes in
            #expect(archive.tensor(of: archive.arrays[0], in: bytes).elements == .float32(Self.grid))
        }
    }

    @Test func widensEveryKindAndReordersFortranAndBigEndianData() throws {
        try withArchive("kinds.npz") { archive, bytes in
            func tensor(_ name: String) -> ConstantTensor {
                archive.tensor(of: archive.arrays.first { $0.name == name }!, in: bytes)
            }
            #expect(tensor("f16").elements == .float32(Self.grid))
            #expect(tensor("f64").elements == .float32(Self.grid))
            #expect(tensor("i8").elements == .int64([-128, 5, 127]))
            #expect(tensor("u16").elements == .int64([0, 65535]))
            #expect(tensor("i32").elements == .int64([-7, 7]))
            #expect(tensor("big").elements == .float32(Self.grid))
            #expect(tensor("fortran") == ConstantTensor(shape: [2, 3, 4], elements: .float32(Self.grid)))
            #expect(tensor("scalar") == ConstantTensor(shape: [], elements: .float32([2.5])))
        }
    }

    @Test func refusesObjectAndStringArraysNamingThem() throws {
        for (file, array) in [("objects.npz", "o"), ("strings.npz", "s")] {
            #expect(throws: NumPyError.self) { try withArchive(file) { _, _ in } }
            do { try withArchive(file) { _, _ in } } catch let error as NumPyError {
                guard case .unsupportedDType(let named, _) = error else { Issue.record("\(error)"); continue }
                #expect(named == array)
            }
        }
    }

    @Test func refusesABareNPYAndBytesThatAreNoArchive() throws {
        let single = try Data(contentsOf: URL(fileURLWithPath: try Self.directory.get() + "/single.npy"))
        #expect(throws: NumPyError.notNPZ(reason: "it is not a zip archive")) {
            try single.withUnsafeBytes { _ = try NPZArchive(parsing: $0) }
        }
        // The same bytes read as one array work: the header parser is not the problem.
        let array = try single.withUnsafeBytes { try NPYArray(name: "x", parsing: $0) }
        #expect(array.shape == [2, 3, 4])
    }

    @Test func aTruncatedArchiveIsAnArchiveError() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try Self.directory.get() + "/stored.npz"))
        #expect(throws: NumPyError.self) { try bytes.prefix(bytes.count / 2).withUnsafeBytes { _ = try NPZArchive(parsing: $0) } }
    }

    @Test func whatTheWriterWritesTheReaderReadsBack() throws {
        let arrays: [(name: String, tensor: ConstantTensor)] = [
            ("out", ConstantTensor(shape: [2, 3, 4], elements: .float32(Self.grid))),
            ("indices", ConstantTensor(shape: [3], elements: .int64([0, -1, 1 << 40]))),
            ("flags", ConstantTensor(shape: [1, 2], elements: .bool([false, true]))),
            ("scalar", ConstantTensor(shape: [], elements: .float32([-0.5]))),
        ]
        var written: [UInt8] = []
        try NPZWriter.write(arrays) { written += $0 }
        try written.withUnsafeBytes { bytes in
            let archive = try NPZArchive(parsing: bytes)
            #expect(archive.arrays.map(\.name) == arrays.map(\.name))
            for (array, expected) in zip(archive.arrays, arrays) {
                #expect(archive.tensor(of: array, in: bytes) == expected.tensor)
            }
        }
    }

    @Test func numpyReadsWhatTheWriterWrites() throws {
        let path = NSTemporaryDirectory() + "quantd-written-\(UUID().uuidString).npz"
        var written: [UInt8] = []
        try NPZWriter.write([("y", ConstantTensor(shape: [2, 2], elements: .float32([1, 2.5, -3, 4])))]) { written += $0 }
        try Data(written).write(to: URL(fileURLWithPath: path))
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: FixturePackages.python)
        process.arguments = ["-c", "import numpy as np, sys; a = np.load(sys.argv[1])['y']; print(a.dtype, a.shape, a.tolist())", path]
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(printed == "float32 (2, 2) [[1.0, 2.5], [-3.0, 4.0]]\n")
    }
}
