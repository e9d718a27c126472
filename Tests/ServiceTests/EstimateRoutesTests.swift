import Foundation
import Testing
@testable import Service

/// GET /v1/devices, POST /v1/estimate and the estimates in a job's report, over real sockets.
@Suite("estimate routes")
struct EstimateRoutesTests {
    @Test("GET /v1/devices serves the catalog with every device and its sources")
    func devices() throws {
        let server = try TestServer()
        defer { server.stop() }
        let response = try server.get("/v1/devices")
        #expect(response.status == 200)
        let devices = try #require(response.json["devices"] as? [[String: Any]])
        #expect(devices.contains { $0["name"] as? String == "iPhone 15 Pro" && $0["chip"] as? String == "A17 Pro" })
        let ne = try #require(devices.first?["neural_engine"] as? [String: Any])
        #expect((ne["fp16_tflops"] as? [String: Any])?["source"] as? String != nil)
    }

    @Test("POST /v1/estimate compares configs on a Core ML model and recommends the smallest within budget")
    func estimateCoreML() throws {
        let server = try TestServer()
        defer { server.stop() }
        let id = try #require(try server.uploadModel(PackageFixture.linearProgram(weights: [256, 512])) ["id"] as? String)
        let response = try server.postJSON("/v1/estimate", ["model_id": id, "configs": ["w8", "palettize-8", "palettize-4", "w4-block32"],
                                                            "device": "iPhone 15 Pro", "compute_units": "cpuAndNeuralEngine", "accuracy_budget": 100])
        #expect(response.status == 200, "\(response.text)")
        let rows = try #require(response.json["rows"] as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["w8", "palettize-8", "palettize-4", "w4-block32"])
        let bytes = rows.prefix(3).map { $0["weight_bytes"] as? Int ?? 0 }
        #expect(bytes[0] > bytes[2] && bytes[1] > bytes[2], "\(bytes)")
        // The model is iOS16: per-block int4 needs iOS18, so that row says why instead.
        #expect((rows[3]["error"] as? String)?.contains("iOS18") == true, "\(rows[3])")
        let estimates = try #require(rows[0]["estimates"] as? [String: Any])
        let totals = try #require(estimates["totals"] as? [String: Any])
        #expect(totals["macs"] as? Int == (256 + 512) * 64)
        #expect(totals["parameters"] as? Int == (256 + 512) * 64)
        #expect((estimates["entries"] as? [Any])?.isEmpty == false)
        #expect((estimates["accuracy"] as? [String: Any])?["top1_change"] as? Double ?? 1 < 0)
        let recommendation = try #require(response.json["recommendation"] as? [String: Any])
        #expect(recommendation["name"] as? String == "palettize-4", "\(recommendation)")
        // Nothing was written: no job, no artifact.
        #expect((try server.get("/v1/jobs").json["jobs"] as? [Any])?.isEmpty ?? true)
    }

    @Test("os picks the runtime: iOS17 shows no Neural Engine gain from 4-bit LUTs on a weight-bound model where iOS18 does; the default is the newest")
    func osRelease() throws {
        let server = try TestServer()
        defer { server.stop() }
        let id = try #require(try server.uploadModel(PackageFixture.linearProgram(weights: [2048, 2048]))["id"] as? String)
        func speedup(_ os: String?) throws -> (os: String?, speedup: Double) {
            var body: [String: Any] = ["model_id": id, "configs": ["palettize-4"], "device": "iPhone 15 Pro", "compute_units": "cpuAndNeuralEngine",
                                       "devices": ["iPhone 15 Pro"]]
            if let os { body["os"] = os }
            let response = try server.postJSON("/v1/estimate", body)
            #expect(response.status == 200, "\(response.text)")
            let row = try #require((response.json["rows"] as? [[String: Any]])?.first)
            let entries = try #require((row["estimates"] as? [String: Any])?["entries"] as? [[String: Any]])
            let entry = try #require(entries.first { $0["compute_units"] as? String == "cpuAndNeuralEngine" })
            #expect(entry["os"] as? String == response.json["os"] as? String)
            return (response.json["os"] as? String, try #require(entry["speedup"] as? Double))
        }
        let ios17 = try speedup("macOS14"), ios18 = try speedup("iOS18"), byDefault = try speedup(nil)
        #expect(ios17.os == "iOS17" && ios18.os == "iOS18" && byDefault.os == "iOS18")
        #expect(ios17.speedup <= 1)
        #expect(ios18.speedup > 1.2)
        #expect(byDefault.speedup == ios18.speedup)
    }

    @Test("a budget no config meets gets no recommendation and says so")
    func impossibleBudget() throws {
        let server = try TestServer()
        defer { server.stop() }
        let id = try #require(try server.uploadModel(PackageFixture.linearProgram(weights: [128]))["id"] as? String)
        let response = try server.postJSON("/v1/estimate", ["model_id": id, "configs": ["palettize-2"], "accuracy_budget": 0])
        #expect(response.status == 200, "\(response.text)")
        // Without a device, the newest calibrated one is the target.
        #expect(response.json["device"] as? String == "iPhone 15 Pro")
        #expect(response.json["compute_units"] as? String == "all")
        let recommendation = try #require(response.json["recommendation"] as? [String: Any])
        #expect(recommendation["name"] is NSNull || recommendation["name"] == nil)
        #expect((recommendation["reason"] as? String)?.contains("0.00 points") == true)
    }

    @Test("a safetensors model gets per-token decode estimates")
    func estimateSafetensors() throws {
        let server = try TestServer()
        defer { server.stop() }
        let id = try #require(try server.uploadModel(SafetensorsFixture.standard(seed: 5).bytes)["id"] as? String)
        let response = try server.postJSON("/v1/estimate", ["model_id": id, "configs": ["w8"], "devices": ["M4"], "device": "M4"])
        #expect(response.status == 200, "\(response.text)")
        #expect(response.json["format"] as? String == "safetensors")
        let row = try #require((response.json["rows"] as? [[String: Any]])?.first)
        let estimates = try #require(row["estimates"] as? [String: Any])
        #expect((estimates["basis"] as? String)?.contains("per decoded token") == true)
        let entries = try #require(estimates["entries"] as? [[String: Any]])
        #expect(Set(entries.compactMap { $0["chip"] as? String }) == ["M4"])
    }

    @Test("a Core ML job's report carries estimates for every device and compute-unit choice")
    func reportEstimates() throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(PackageFixture.linearProgram(weights: [256]), preset: "w8")
        let report = try server.get("/v1/jobs/\(jobID)/report").json
        let estimates = try #require(report["estimates"] as? [String: Any])
        let entries = try #require(estimates["entries"] as? [[String: Any]])
        let catalog = try DeviceCatalogFile.load(Repository.root + "/config/devices.json")
        #expect(entries.count == catalog.devices.count * 4)
        let a17 = try #require(entries.first { $0["chip"] as? String == "A17 Pro" && $0["compute_units"] as? String == "all" })
        #expect(a17["basis"] as? String == "calibrated")
        #expect((a17["compressed_memory_bytes"] as? Int ?? .max) < (a17["float16_memory_bytes"] as? Int ?? 0))
        #expect((estimates["totals"] as? [String: Any])?["parameters"] as? Int == 256 * 64)
    }
}
