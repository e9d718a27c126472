import Testing
import ModelFormats

@Suite struct SafetensorsWriterErrorTests {
    @Test func messagesNameTheTensorAndTheNumbers() {
        #expect(SafetensorsWriterError.tensorDataShort(tensor: "w", declared: 8, supplied: 5).description
            == "tensor 'w': supplied 5 bytes but its shape and dtype declare 8")
        #expect(SafetensorsWriterError.reservedTensorName.description.contains("__metadata__"))
    }
}
