import Testing
import ModelFormats

@Suite struct FileAccessErrorTests {
    @Test func messageNamesTheCallThePathAndTheReason() {
        #expect(FileAccessError.systemCall("open", path: "/m.safetensors", errno: 2).description
            == "open on '/m.safetensors' failed: No such file or directory (errno 2)")
        #expect(FileAccessError.systemCall("write", path: nil, errno: 28).description
            == "write failed: No space left on device (errno 28)")
    }
}
