import Testing
@testable import ModelFormats

/// Hostile external-data references: each is refused with the tensor and file named.
@Suite struct ONNXExternalDataTests {
    typealias M = ONNXTestModels

    static func upload(_ tensor: OnnxSubset_TensorProto, file: [UInt8] = ONNXUploadTests.weightFile) -> [UInt8] {
        var proto = M.matMul
        proto.graph.initializer[0] = tensor
        return ZipTestBytes.archive([.init(name: "dir/net.onnx", data: M.bytes(proto)), .init(name: "dir/weights.bin", data: file)])
    }

    @Test(arguments: [
        ("../weights.bin", "it has a '..' component"),
        ("/etc/passwd", "it is absolute"),
        ("a\\..\\weights.bin", "it contains a backslash"),
        ("", "it is empty"),
    ])
    func locationsLeavingTheUploadAreRefused(location: String, reason: String) {
        let upload = Self.upload(M.external("W", dims: [4, 3], location: location))
        #expect(throws: ONNXError.unsafeExternalLocation(tensor: "W", location: location, reason: reason)) { try M.parse(upload) }
    }

    @Test func locationsTheUploadDoesNotHoldAreRefused() {
        let upload = Self.upload(M.external("W", dims: [4, 3], location: "other.bin"))
        #expect(throws: ONNXError.externalFileMissing(tensor: "W", location: "other.bin")) { try M.parse(upload) }
    }

    @Test func aBareModelWithExternalDataNamesTheMissingFile() {
        var proto = M.matMul
        proto.graph.initializer[0] = M.external("W", dims: [4, 3], location: "weights.bin")
        #expect(throws: ONNXError.externalFileMissing(tensor: "W", location: "weights.bin")) { try M.parse(proto) }
    }

    @Test func rangesPastTheFileAreRefused() {
        let upload = Self.upload(M.external("W", dims: [4, 3], location: "weights.bin", offset: 100))
        #expect(throws: ONNXError.externalDataOutOfRange(tensor: "W", location: "weights.bin", offset: 100, length: 48, fileSize: 112)) {
            try M.parse(upload)
        }
        let huge = Self.upload(M.external("W", dims: [4, 3], location: "weights.bin", offset: Int(Int64.max - 10)))
        #expect { try M.parse(huge) } throws: { error in
            if case ONNXError.externalDataOutOfRange = error { return true }
            return false
        }
    }

    @Test func aLengthThatDisagreesWithTheShapeIsRefused() {
        let upload = Self.upload(M.external("W", dims: [4, 3], location: "weights.bin", length: 40))
        #expect(throws: ONNXError.sizeMismatch(tensor: "W", expected: 48, actual: 40)) { try M.parse(upload) }
    }

    @Test func offsetsThatAreNotNumbersAreRefused() {
        var tensor = M.external("W", dims: [4, 3], location: "weights.bin")
        var entry = OnnxSubset_StringStringEntryProto()
        entry.key = "offset"
        entry.value = "-5"
        tensor.externalData.append(entry)
        #expect(throws: ONNXError.malformedExternalData(tensor: "W", reason: "'offset' is '-5', not a byte count")) {
            try M.parse(Self.upload(tensor))
        }
    }

    @Test func aReferenceWithoutLocationIsRefused() {
        var tensor = M.external("W", dims: [4, 3], location: "weights.bin")
        tensor.externalData.removeAll { $0.key == "location" }
        #expect(throws: ONNXError.malformedExternalData(tensor: "W", reason: "it has no 'location' entry")) {
            try M.parse(Self.upload(tensor))
        }
    }

    @Test func externalDataInsideAConstantOrSubgraphIsCheckedToo() {
        var proto = M.matMul
        proto.graph.node.append(M.constant("C", M.external("C", dims: [2], location: "../x")))
        let upload = ZipTestBytes.archive([.init(name: "net.onnx", data: M.bytes(proto))])
        #expect(throws: ONNXError.unsafeExternalLocation(tensor: "C", location: "../x", reason: "it has a '..' component")) {
            try M.parse(upload)
        }
    }
}
