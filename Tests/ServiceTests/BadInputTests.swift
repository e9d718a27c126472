import Foundation
import Testing

/// Every kind of bad input gets the right status as problem+json and changes nothing: a
/// table of cases run against one server, then checks that the server and its data are intact.
@Suite("bad input")
struct BadInputTests {
    /// What a case expects back.
    struct Expectation {
        var status: Int
        /// The problem `type`'s last segment, when the case pins it.
        var kind: String?
        /// The problem's `field` member, when the case pins it.
        var field: String?
        /// Text the problem's `detail` must hold, when the case pins it.
        var detail: String?
        /// The `Allow` header a 405 must carry (RFC 9110 §15.5.6).
        var allow: String?
    }

    /// A request sent as these exact bytes on a fresh connection, or a truncated upload.
    enum Send {
        case request(method: String, path: String, headers: [(String, String)], body: [UInt8]?)
        case raw([UInt8])
    }

    struct Case {
        var name: String
        var send: Send
        var expect: Expectation
    }

    static func upload(_ bytes: [UInt8]) -> Send {
        .request(method: "POST", path: "/v1/models", headers: [("Content-Type", "application/octet-stream")], body: bytes)
    }

    static func job(_ json: String) -> Send {
        .request(method: "POST", path: "/v1/jobs", headers: [("Content-Type", "application/json")], body: Array(json.utf8))
    }

    static func estimate(_ json: String) -> Send {
        .request(method: "POST", path: "/v1/estimate", headers: [("Content-Type", "application/json")], body: json.isEmpty ? nil : Array(json.utf8))
    }

    /// A valid one-tensor header plus data, as the base of the corrupt variants.
    static let oneTensorData = [UInt8](repeating: 0, count: 16)

    static func cases(modelID: String) -> [Case] {
        let header = { (entries: String) in "{\(entries)}" }
        var rng = SeededGenerator(seed: 99)
        // Byte 8 is not '{', so no length prefix can make these look like safetensors.
        let random = (0..<4096).map { i in i == 8 ? 0 : UInt8(truncatingIfNeeded: rng.next()) }
        return [
            Case(name: "empty body", send: .request(method: "POST", path: "/v1/models", headers: [("Content-Length", "0")], body: nil),
                 expect: .init(status: 400)),
            Case(name: "random bytes", send: upload(random),
                 expect: .init(status: 415, kind: "unsupported-model-format")),
            Case(name: "zip magic, not a zip", send: upload([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 1024)),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "zip without Manifest.json", send: upload(PackageFixture.zip([("x/model.mlmodel", [1, 2, 3])])),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "zip with a path that leaves the folder", send: upload(PackageFixture.zipSlip()),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "package whose manifest names a missing model", send: upload(PackageFixture.zip([
                ("net.mlpackage/Manifest.json", Array(PackageFixture.manifest.utf8))])),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "package whose model is not protobuf", send: upload(PackageFixture.package(model: [0xFF, 0xFF, 0xFF, 0x07])),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "package whose model is not an ML Program",
                 // Field 1 (specificationVersion) = 4 and field 500 (a neural network), empty.
                 send: upload(PackageFixture.package(model: [0x08, 0x04, 0xA2, 0x1F, 0x00])),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "invalid JSON header",
                 send: upload(SafetensorsFixture.file(header: #"{"w": {"dtype": "F32", "shape": [2,2], "data_offsets": [0,16]"#, data: oneTensorData)),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "header length beyond the file",
                 send: upload(SafetensorsFixture.file(header: header(#""w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#),
                                                      data: oneTensorData, declaredLength: 4096)),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "overlapping offsets",
                 send: upload(SafetensorsFixture.file(header: header(#""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}"#),
                                                      data: [UInt8](repeating: 0, count: 24))),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "offsets beyond the data",
                 send: upload(SafetensorsFixture.file(header: header(#""w":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]}"#), data: oneTensorData)),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "shape × dtype ≠ byte length",
                 send: upload(SafetensorsFixture.file(header: header(#""w":{"dtype":"F32","shape":[3,2],"data_offsets":[0,16]}"#), data: oneTensorData)),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "dims whose product overflows",
                 send: upload(SafetensorsFixture.file(header: header(#""w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}"#), data: oneTensorData)),
                 expect: .init(status: 422, kind: "invalid-model")),
            Case(name: "unknown job id", send: .request(method: "GET", path: "/v1/jobs/job_doesnotexist", headers: [], body: nil),
                 expect: .init(status: 404, kind: "not-found")),
            Case(name: "unknown route", send: .request(method: "GET", path: "/v1/nothing-here", headers: [], body: nil),
                 expect: .init(status: 404, kind: "not-found")),
            Case(name: "wrong method", send: .request(method: "PUT", path: "/v1/presets", headers: [], body: Array("{}".utf8)),
                 expect: .init(status: 405, kind: "method-not-allowed", allow: "GET, HEAD")),
            Case(name: "chunk data not followed by CRLF (all in one read)",
                 send: .raw(Array("POST /v1/estimate HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n".utf8)),
                 expect: .init(status: 400)),
            Case(name: "Host with a space", send: .raw(Array("GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n".utf8)),
                 expect: .init(status: 400)),
            Case(name: "asterisk-form target with GET", send: .raw(Array("GET * HTTP/1.1\r\nHost: h\r\n\r\n".utf8)),
                 expect: .init(status: 400)),
            Case(name: "malformed JSON job body", send: job(#"{"model_id": "#),
                 expect: .init(status: 400, kind: "invalid-request")),
            Case(name: "unknown preset", send: job(#"{"model_id":"\#(modelID)","preset":"w3"}"#),
                 expect: .init(status: 400, kind: "invalid-request", field: "preset")),
            Case(name: "config with a bad dtype", send: job(#"{"model_id":"\#(modelID)","config":{"global_config":{"dtype":"int3"}}}"#),
                 expect: .init(status: 422, kind: "invalid-config", field: "config.global_config.dtype")),
            Case(name: "a deployment target coremltools has no name for",
                 send: job(#"{"model_id":"\#(modelID)","preset":"w8","minimum_deployment_target":"iOS19"}"#),
                 expect: .init(status: 422, kind: "invalid-config", field: "minimum_deployment_target",
                               detail: "iOS15, macOS12, tvOS15, watchOS8, iOS16")),
            Case(name: "a deployment target without an ML Program opset",
                 send: .request(method: "POST", path: "/v1/jobs?model_id=\(modelID)&minimum_deployment_target=iOS14",
                                headers: [("Content-Type", "application/json")], body: Array(#"{"global_config":{"dtype":"int8"}}"#.utf8)),
                 expect: .init(status: 422, kind: "invalid-config", field: "minimum_deployment_target")),
            Case(name: "a deployment target for a safetensors model",
                 send: job(#"{"model_id":"\#(modelID)","preset":"w8","minimum_deployment_target":"iOS18"}"#),
                 expect: .init(status: 422, kind: "invalid-config", field: "minimum_deployment_target",
                               detail: "Core ML models only")),
            Case(name: "model that does not exist", send: job(#"{"model_id":"\#(String(repeating: "0", count: 64))","preset":"w8"}"#),
                 expect: .init(status: 404, kind: "not-found")),
            Case(name: "space before the colon of a header field",
                 send: .raw(Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Thing : 1\r\n\r\n".utf8)),
                 expect: .init(status: 400, kind: "malformed-request")),
            Case(name: "two different Content-Length values",
                 send: .raw(Array("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".utf8)),
                 expect: .init(status: 400, kind: "malformed-request")),
            Case(name: "bare LF line endings",
                 send: .raw(Array("GET /healthz HTTP/1.1\nHost: x\n\n".utf8)),
                 expect: .init(status: 400, kind: "malformed-request")),
            Case(name: "estimate without a body", send: estimate(""), expect: .init(status: 400)),
            Case(name: "estimate that is not JSON", send: estimate("{configs"), expect: .init(status: 400, detail: "not valid JSON")),
            Case(name: "estimate without model_id", send: estimate(#"{"configs":["w8"]}"#), expect: .init(status: 400, field: "model_id")),
            Case(name: "estimate of a model that does not exist", send: estimate(#"{"model_id":"\#(String(repeating: "0", count: 64))"}"#),
                 expect: .init(status: 404)),
            Case(name: "estimate with an unknown field", send: estimate(#"{"model_id":"\#(modelID)","target":"A16"}"#),
                 expect: .init(status: 400, field: "target", detail: "accuracy_budget")),
            Case(name: "estimate for an unknown device", send: estimate(#"{"model_id":"\#(modelID)","device":"Pixel 8"}"#),
                 expect: .init(status: 400, field: "device", detail: "iPhone 15 Pro")),
            Case(name: "estimate with a device list that is not a list", send: estimate(#"{"model_id":"\#(modelID)","devices":"M4"}"#),
                 expect: .init(status: 400, field: "devices")),
            Case(name: "estimate with unknown compute units", send: estimate(#"{"model_id":"\#(modelID)","compute_units":"gpu"}"#),
                 expect: .init(status: 400, field: "compute_units", detail: "cpuAndNeuralEngine")),
            Case(name: "estimate with a negative accuracy budget", send: estimate(#"{"model_id":"\#(modelID)","accuracy_budget":-1}"#),
                 expect: .init(status: 400, field: "accuracy_budget")),
            Case(name: "estimate with a boolean accuracy budget", send: estimate(#"{"model_id":"\#(modelID)","accuracy_budget":true}"#),
                 expect: .init(status: 400, field: "accuracy_budget")),
            Case(name: "estimate with int8_activations not a boolean", send: estimate(#"{"model_id":"\#(modelID)","int8_activations":"yes"}"#),
                 expect: .init(status: 400, field: "int8_activations")),
            Case(name: "estimate for an unknown OS release", send: estimate(#"{"model_id":"\#(modelID)","os":"iOS16"}"#),
                 expect: .init(status: 400, field: "os", detail: "iOS17, macOS14, iOS18, macOS15")),
            Case(name: "estimate with an OS release that is not a string", send: estimate(#"{"model_id":"\#(modelID)","os":18}"#),
                 expect: .init(status: 400, field: "os")),
            Case(name: "estimate for iOS17 of a model raised to iOS18", send: estimate(#"{"model_id":"\#(modelID)","os":"iOS17","minimum_deployment_target":"iOS18"}"#),
                 expect: .init(status: 422, field: "os", detail: "cannot load")),
            Case(name: "estimate with an unknown preset", send: estimate(#"{"model_id":"\#(modelID)","configs":["w9"]}"#),
                 expect: .init(status: 400, field: "configs", detail: "known presets")),
            Case(name: "estimate with an empty config list", send: estimate(#"{"model_id":"\#(modelID)","configs":[]}"#),
                 expect: .init(status: 400, field: "configs")),
            Case(name: "estimate with an invalid config", send: estimate(#"{"model_id":"\#(modelID)","configs":{"odd":{"config_type":"OpPalettizerConfig","global_config":{"nbits":5}}}}"#),
                 expect: .init(status: 422, kind: "invalid-config", detail: "configs.odd")),
            Case(name: "estimate with configs and a sweep", send: estimate(#"{"model_id":"\#(modelID)","configs":["w8"],"sweep":"default"}"#),
                 expect: .init(status: 400, field: "sweep")),
            Case(name: "estimate with an unknown sweep", send: estimate(#"{"model_id":"\#(modelID)","sweep":"everything"}"#),
                 expect: .init(status: 400, field: "sweep", detail: "default")),
            Case(name: "GET /v1/estimate", send: .request(method: "GET", path: "/v1/estimate", headers: [], body: nil),
                 expect: .init(status: 405, allow: "POST")),
        ]
    }

    @Test("each bad request gets its status as problem+json; the server and its data stay intact")
    func badInputTable() throws {
        let server = try TestServer()
        defer { server.stop() }
        let fixture = SafetensorsFixture.standard(seed: 17)
        let modelID = try #require(try server.uploadModel(fixture.bytes)["id"] as? String)
        let storedPath = server.modelsDirectory + "/" + modelID
        let modelsBefore = server.files(in: server.modelsDirectory)

        for c in Self.cases(modelID: modelID) {
            let response: HTTPTestResponse
            do {
                response = try send(c, to: server)
            } catch {
                Issue.record("\(c.name): \(error)")
                continue
            }
            expectProblem(response, status: c.expect.status, c.name)
            if let kind = c.expect.kind {
                #expect(response.json["type"] as? String == "https://quantd.dev/problems/" + kind, "\(c.name): \(response.text)")
            }
            if let field = c.expect.field {
                #expect(response.json["field"] as? String == field, "\(c.name): \(response.text)")
            }
            if let allow = c.expect.allow {
                #expect(response.header("Allow") == allow, "\(c.name): Allow \(response.header("Allow") ?? "none")")
            }
            if let detail = c.expect.detail {
                #expect((response.json["detail"] as? String)?.contains(detail) == true, "\(c.name): \(response.text)")
            }
            #expect(server.files(in: server.modelsDirectory) == modelsBefore, "\(c.name): nothing new is stored")
        }

        try truncatedUploadStoresNothing(server)
        #expect(server.files(in: server.modelsDirectory) == modelsBefore)
        #expect(waitUntil(timeout: 10) { server.files(in: server.tmpDirectory).isEmpty }, "no upload left behind in tmp/")

        // Afterwards: healthy, the earlier model untouched, and jobs still work end to end.
        #expect(try server.get("/healthz").status == 200)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: storedPath))) == fixture.bytes)
        let jobID = try server.createJob(modelID: modelID)
        #expect(try server.waitForJob(jobID)["status"] as? String == "succeeded")
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        W8ArtifactVerification.verify(try ParsedSafetensors(Subprocess.gunzip(writeTemporary(server.downloadArtifact(jobID), in: dir))),
                                      against: fixture)
    }

    private func send(_ c: Case, to server: TestServer) throws -> HTTPTestResponse {
        switch c.send {
        case .request(let method, let path, let headers, let body):
            return try server.request(method, path, headers: headers, body: body)
        case .raw(let bytes):
            let client = try RawHTTPClient(port: server.port)
            defer { client.close() }
            try client.send(bytes)
            let response = try client.readResponse()
            #expect(response.closesConnection, "\(c.name): a malformed request ends the connection")
            #expect(client.waitForClose(), "\(c.name): the server closes the connection")
            return response
        }
    }

    /// Content-Length N, fewer bytes, then the client goes away: no response is possible, and
    /// nothing may be stored.
    private func truncatedUploadStoresNothing(_ server: TestServer) throws {
        let model = SafetensorsFixture.standard(seed: 18).bytes
        let client = try RawHTTPClient(port: server.port)
        try client.send(RawHTTPClient.requestBytes("POST", "/v1/models", headers: [("Content-Length", "\(model.count)")]))
        try client.send(Array(model.prefix(model.count / 2)))
        client.close()
        #expect(waitUntil(timeout: 10) { server.files(in: server.tmpDirectory).isEmpty }, "the partial upload is removed from tmp/")
        #expect(try server.get("/healthz").status == 200, "the server still serves after a truncated upload")
    }
}
