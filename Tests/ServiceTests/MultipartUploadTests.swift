import Foundation
import Testing

/// Models are content-addressed: the same bytes sent as a multipart form are the same model.
@Suite("multipart upload")
struct MultipartUploadTests {
    @Test("curl -F model=@file gives the raw upload's id and stores one file")
    func multipartMatchesRawUpload() throws {
        let server = try TestServer()
        defer { server.stop() }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = SafetensorsFixture.standard(seed: 9)
        let path = try writeTemporary(fixture.bytes, in: dir, name: "tiny.safetensors")

        let raw = try Curl.run(["-T", path, "-X", "POST", server.baseURL + "/v1/models"])
        #expect(raw.status == 201, "\(String(decoding: raw.stdout, as: UTF8.self))")
        let form = try Curl.run(["-F", "model=@\(path)", server.baseURL + "/v1/models"])
        #expect(form.exitCode == 0, "\(form.stderr)")
        #expect(form.status == 201, "\(String(decoding: form.stdout, as: UTF8.self))")

        let rawID = try #require(raw.json["id"] as? String)
        #expect(form.json["id"] as? String == rawID, "multipart unwraps to the same bytes, so the same id")
        #expect(form.json["bytes"] as? Int == fixture.bytes.count, "the form framing is not part of the model")
        #expect(server.files(in: server.modelsDirectory) == [rawID], "one stored file for one model")
        let stored = try Array(Data(contentsOf: URL(fileURLWithPath: server.modelsDirectory + "/" + rawID)))
        #expect(stored == fixture.bytes)
        #expect(waitUntil(timeout: 10) { server.files(in: server.tmpDirectory).isEmpty }, "no upload left in tmp/")
    }
}
