import Testing
import ModelFormats

@Suite struct SafetensorsErrorTests {
    @Test func sizeMismatchMessageStatesBothSizes() {
        let error = SafetensorsError.byteCountMismatch(tensor: "x.weight", shape: [3, 4], dtype: .float16, required: 24, spanned: 20)
        #expect(error.description == "tensor 'x.weight': shape [3, 4] × F16 needs 24 bytes but data_offsets span 20")
    }

    @Test func layoutMessagesLocateTheProblem() {
        #expect(SafetensorsError.uncoveredBytes(range: 8..<12, after: "a", before: "b").description
            == "data buffer bytes 8..<12 between tensors 'a' and 'b' belong to no tensor; safetensors requires the data buffer to be fully covered")
        #expect(SafetensorsError.overlappingTensors(first: "a", firstRange: 0..<8, second: "b", secondRange: 4..<12).description
            == "tensors 'a' (bytes 0..<8) and 'b' (bytes 4..<12) overlap in the data buffer")
    }

    @Test func unknownDTypeListsTheSupportedOnes() {
        let message = SafetensorsError.unknownDType(tensor: "a", dtype: "Q4_0").description
        #expect(message.hasPrefix("tensor 'a': unsupported dtype 'Q4_0'; supported: F64, F32"))
        #expect(message.hasSuffix("BOOL"))
    }
}
