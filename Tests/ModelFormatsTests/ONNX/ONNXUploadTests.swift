import Testing
@testable import ModelFormats

/// Zips and tars of a model with its external data, and the uploads that are refused.
@Suite struct ONNXUploadTests {
    typealias M = ONNXTestModels

    /// W [4, 3] at offset 64 of `weights.bin`, bias inline.
    static var externalModel: [UInt8] {
        var proto = M.matMul
        proto.graph.initializer[0] = M.external("W", dims: [4, 3], location: "weights.bin", offset: 64, length: 48)
        return M.bytes(proto)
    }

    static let weightFile = [UInt8](repeating: 0xAA, count: 64) + M.floats((0..<12).map(Float.init))

    @Test func aZipHoldsTheModelAndItsExternalData() throws {
        let zip = ZipTestBytes.archive([.init(name: "m/net.onnx", data: Self.externalModel),
                                        .init(name: "m/weights.bin", data: Self.weightFile)])
        let model = try M.parse(zip)
        #expect(model.usesExternalData && model.fileName == "net.onnx")
        #expect(model.withBytes(of: model.weights[0]) { Array($0) } == M.floats((0..<12).map(Float.init)))
    }

    @Test func deflatedExternalDataIsInflated() throws {
        let zip = ZipTestBytes.archive([.init(name: "net.onnx", data: Self.externalModel),
                                        .init(name: "weights.bin", data: Self.weightFile, deflate: true)])
        let model = try M.parse(zip)
        #expect(model.withBytes(of: model.weights[0]) { Array($0) } == M.floats((0..<12).map(Float.init)))
    }

    @Test func aTarHoldsThemToo() throws {
        let archive = tar(member("net.onnx", Self.externalModel), member("weights.bin", Self.weightFile))
        let model = try M.parse(archive)
        #expect(model.withBytes(of: model.weights[0]) { Array($0) } == M.floats((0..<12).map(Float.init)))
    }

    @Test func anArchiveWithoutAModelIsRefused() {
        let zip = ZipTestBytes.archive([.init(name: "weights.bin", data: Self.weightFile)])
        #expect(throws: ONNXError.noModelInArchive) { try M.parse(zip) }
    }

    @Test func anArchiveWithTwoModelsIsRefused() {
        let zip = ZipTestBytes.archive([.init(name: "a.onnx", data: Self.externalModel), .init(name: "b.onnx", data: Self.externalModel)])
        #expect(throws: ONNXError.severalModelsInArchive(["a.onnx", "b.onnx"])) { try M.parse(zip) }
    }

    @Test func finderAppleDoubleFilesAreNotModels() throws {
        let zip = ZipTestBytes.archive([.init(name: "net.onnx", data: Self.externalModel),
                                        .init(name: "__MACOSX/._net.onnx", data: [0, 5, 22, 7]),
                                        .init(name: "weights.bin", data: Self.weightFile)])
        #expect(try M.parse(zip).weights.count == 2)
    }

    @Test func symlinkEntriesAreRefusedByTheArchiveReaders() {
        let zip = ZipTestBytes.archive([.init(name: "net.onnx", data: Self.externalModel),
                                        .init(name: "weights.bin", data: Array("/etc/passwd".utf8), unixMode: 0o120777)])
        #expect { try M.parse(zip) } throws: { error in
            if case ONNXError.archive(.unsupportedEntryType) = error { return true }
            return false
        }
        let archive = tar(member("net.onnx", Self.externalModel), member("weights.bin", [], type: UInt8(ascii: "2")))
        #expect(throws: ONNXError.archive(.unsupportedEntryType(entry: "weights.bin", type: "symbolic link"))) { try M.parse(archive) }
    }
}
