import Foundation
import Testing

/// Job configs as teams already have them: coremltools YAML sent as is, and JSON configs
/// with joint stages or 4-bit settings.
@Suite("job config documents")
struct ConfigDocumentTests {
    static let coremltoolsYAML = """
        config_type: "OpLinearQuantizerConfig"
        global_config:
          mode: "linear_symmetric"
          dtype: "int4"
          granularity: "per_block"
          block_size: 32
        op_name_configs:
          "fc.bias": null
        """

    @Test("a bare coremltools YAML config with ?model_id= queues a job that applies it")
    func bareYAMLConfig() throws {
        let server = try TestServer()
        defer { server.stop() }
        let model = try server.uploadModel(SafetensorsFixture.standard(seed: 5).bytes)
        let id = try #require(model["id"] as? String)
        let response = try server.request("POST", "/v1/jobs?model_id=\(id)", headers: [("Content-Type", "application/yaml")],
                                          body: Array(Self.coremltoolsYAML.utf8))
        #expect(response.status == 202, "\(response.text)")
        let config = try #require(response.json["config"] as? [String: Any])
        let global = try #require(config["global_config"] as? [String: Any])
        #expect(global["dtype"] as? String == "int4")
        #expect(global["block_size"] as? Int == 32)
        let job = try server.waitForJob(try #require(response.json["id"] as? String))
        #expect(job["status"] as? String == "succeeded", "\(job)")
    }

    @Test("a YAML job document with model_id and preset")
    func yamlJobDocument() throws {
        let server = try TestServer()
        defer { server.stop() }
        let id = try #require(try server.uploadModel(SafetensorsFixture.standard(seed: 6).bytes)["id"] as? String)
        let response = try server.request("POST", "/v1/jobs", headers: [("Content-Type", "text/yaml")],
                                          body: Array("model_id: \(id)\npreset: w8\n".utf8))
        #expect(response.status == 202, "\(response.text)")
        #expect(response.json["preset"] as? String == "w8")
    }

    @Test("malformed YAML and YAML configs with bad fields are 4xx problems naming the field")
    func badYAML() throws {
        let server = try TestServer()
        defer { server.stop() }
        let id = try #require(try server.uploadModel(SafetensorsFixture.standard(seed: 7).bytes)["id"] as? String)
        let broken = try server.request("POST", "/v1/jobs?model_id=\(id)", headers: [("Content-Type", "application/yaml")],
                                        body: Array("global_config: [unclosed\n".utf8))
        #expect(broken.status == 400)
        #expect(broken.header("Content-Type") == "application/problem+json")
        let badField = try server.request("POST", "/v1/jobs?model_id=\(id)", headers: [("Content-Type", "application/yaml")],
                                          body: Array("global_config:\n  dtype: int3\n".utf8))
        #expect(badField.status == 422)
        #expect(badField.json["field"] as? String == "config.global_config.dtype")
    }

    @Test("every preset listed (linear, palettization, pruning, joint) runs to a compressed artifact")
    func presetsList() throws {
        let server = try TestServer()
        defer { server.stop() }
        let presets = try #require(try server.get("/v1/presets").json["presets"] as? [[String: Any]])
        let names = presets.compactMap { $0["name"] as? String }
        #expect(names.contains("w8") && names.contains("w4-block32"))
        let id = try #require(try server.uploadModel(SafetensorsFixture.standard(seed: 8).bytes)["id"] as? String)
        // Every preset's stored config runs to a valid artifact whose report marks tensors compressed.
        var jobs: [(String, String)] = []
        for preset in presets {
            let response = try server.postJSON("/v1/jobs", ["model_id": id, "config": preset["config"]!])
            #expect(response.status == 202, "\(preset["name"] ?? "?"): \(response.text)")
            jobs.append((preset["name"] as? String ?? "?", try #require(response.json["id"] as? String)))
        }
        for (name, job) in jobs {
            let finished = try server.waitForJob(job)
            #expect(finished["status"] as? String == "succeeded", "\(name): \(finished)")
            let report = try server.get("/v1/jobs/\(job)/report").json
            let tensors = try #require(report["tensors"] as? [[String: Any]])
            #expect(tensors.contains { $0["action"] as? String == "compressed" }, "\(name)")
        }
    }

    @Test("a group size that does not divide a tensor's channels is a 422 before the job is queued")
    func groupSizePreflight() throws {
        let server = try TestServer()
        defer { server.stop() }
        let id = try #require(try server.uploadModel(SafetensorsFixture.standard(seed: 9).bytes)["id"] as? String)
        // conv.weight has 64 output channels, layers.1.weight 128: 48 divides neither.
        let response = try server.postJSON("/v1/jobs", ["model_id": id, "config": [
            "config_type": "OpPalettizerConfig",
            "global_config": ["nbits": 4, "granularity": "per_grouped_channel", "group_size": 48]]])
        #expect(response.status == 422, "\(response.text)")
        #expect(response.json["field"] as? String == "group_size")
        #expect(try server.get("/v1/jobs").json["jobs"] as? [Any] == nil || (try server.get("/v1/jobs").json["jobs"] as? [Any])?.isEmpty == true)
    }
}

@Suite("YAML safety")
struct YAMLSafetyTests {
    @Test("YAML anchors and aliases are refused before parsing (no billion laughs)")
    func aliasesAreRefused() throws {
        let server = try TestServer()
        defer { server.stop() }
        var yaml = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for (previous, name) in zip("abcdefgh", "bcdefghi") {
            yaml += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        let response = try server.request("POST", "/v1/jobs?model_id=x", headers: [("Content-Type", "application/yaml")],
                                          body: Array(yaml.utf8))
        #expect(response.status == 400)
        #expect(response.text.contains("anchors"))
        #expect(try server.get("/healthz").status == 200)
    }
}
