import Foundation
import Testing
@testable import Service

/// The documented client flow, driven by the real curl binary: upload with -T, queue a w8
/// job, wait for it with ?wait, download with -OJ (stored gzip) or --compressed (decoded by curl), read the report.
@Suite("curl end-to-end flow")
struct CurlFlowTests {
    /// Uploads the standard fixture with `curl -T`, queues w8, waits; returns what later steps need.
    private func compressStandardModel(_ server: TestServer, in dir: String) throws
        -> (fixture: SafetensorsFixture, modelPath: String, model: [String: Any], job: [String: Any]) {
        let fixture = SafetensorsFixture.standard()
        let modelPath = dir + "/model.safetensors"
        try Data(fixture.bytes).write(to: URL(fileURLWithPath: modelPath))

        let upload = try Curl.run(["-T", modelPath, "-X", "POST", server.baseURL + "/v1/models"])
        #expect(upload.exitCode == 0, "curl failed: \(upload.stderr)")
        #expect(upload.status == 201)
        let model = upload.json
        let modelID = try #require(model["id"] as? String)

        let submit = try Curl.run(["-X", "POST", "-H", "Content-Type: application/json",
                                   "--data", #"{"model_id":"\#(modelID)","preset":"w8"}"#, server.baseURL + "/v1/jobs"])
        #expect(submit.status == 202, "\(String(decoding: submit.stdout, as: UTF8.self))")
        let jobID = try #require(submit.json["id"] as? String)
        #expect(submit.final?.header("Location") == "/v1/jobs/\(jobID)")
        #expect(["queued", "running", "succeeded"].contains(submit.json["status"] as? String ?? ""))

        // The documented wait: one curl that answers when the job has finished.
        let waited = try Curl.run([server.baseURL + "/v1/jobs/\(jobID)?wait=120"])
        #expect(waited.status == 200)
        let job = waited.json
        #expect(["succeeded", "failed", "cancelled"].contains(job["status"] as? String ?? ""), "\(job)")
        return (fixture, modelPath, model, job)
    }

    @Test("curl -T upload, w8 job, curl -OJ download: a faithful int8 safetensors inside the .gz")
    func uploadCompressDownload() throws {
        let server = try TestServer()
        defer { server.stop() }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (fixture, modelPath, model, job) = try compressStandardModel(server, in: dir)

        let sha = try Subprocess.run("sha256sum", [modelPath])
        let expectedID = String(decoding: sha.stdout, as: UTF8.self).split(separator: " ").first.map(String.init)
        #expect(model["id"] as? String == expectedID, "the model id is the SHA-256 of the uploaded bytes")
        #expect(model["format"] as? String == "safetensors")
        #expect(model["bytes"] as? Int == fixture.bytes.count)
        #expect(model["tensor_count"] as? Int == fixture.tensors.count)
        #expect(model["parameter_count"] as? Int == fixture.tensors.reduce(0) { $0 + $1.values.count })

        let jobID = try #require(job["id"] as? String)
        #expect(job["status"] as? String == "succeeded", "job ended \(job)")
        #expect(job["progress"] as? Double == 1)
        let links = try #require(job["links"] as? [String: String])
        #expect(links["artifact"] == "/v1/jobs/\(jobID)/artifact")
        #expect(links["report"] == "/v1/jobs/\(jobID)/report")

        let downloads = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: downloads) }
        let download = try Curl.run(["-OJ", server.baseURL + links["artifact"]!], in: downloads)
        #expect(download.exitCode == 0, "curl failed: \(download.stderr)")
        #expect(download.status == 200)
        #expect(download.final?.header("Content-Encoding") == nil, "without --compressed the stored gzip is the entity")
        let saved = server.files(in: downloads)
        #expect(saved.count == 1 && saved[0].hasSuffix(".safetensors.gz"), "curl -OJ saved \(saved)")
        let gz = try #require(saved.first.map { downloads + "/" + $0 })
        let artifact = try ParsedSafetensors(Subprocess.gunzip(gz))
        W8ArtifactVerification.verify(artifact, against: fixture)
    }

    @Test("curl --compressed gets Content-Encoding: gzip and saves the plain safetensors")
    func compressedDownloadIsDecodedByCurl() throws {
        let server = try TestServer()
        defer { server.stop() }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (fixture, _, _, job) = try compressStandardModel(server, in: dir)
        let jobID = try #require(job["id"] as? String)
        #expect(job["status"] as? String == "succeeded")

        let downloads = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: downloads) }
        let download = try Curl.run(["--compressed", "-OJ", server.baseURL + "/v1/jobs/\(jobID)/artifact"], in: downloads)
        #expect(download.exitCode == 0, "curl failed: \(download.stderr)")
        #expect(download.status == 200)
        #expect(download.final?.header("Content-Encoding") == "gzip")
        let saved = server.files(in: downloads)
        #expect(saved.count == 1 && saved[0].hasSuffix(".safetensors") , "curl -OJ --compressed saved \(saved)")
        let path = try #require(saved.first.map { downloads + "/" + $0 })
        let plain = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        W8ArtifactVerification.verify(try ParsedSafetensors(plain), against: fixture)
        #expect(plain == (try Subprocess.gunzip(writeTemporary(server.downloadArtifact(jobID), in: downloads))),
                "curl's decoding equals gunzip of the stored artifact")
    }

    @Test("the report has per-tensor error metrics and totals that match the artifact")
    func reportMatchesArtifact() throws {
        let server = try TestServer()
        defer { server.stop() }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (fixture, _, _, job) = try compressStandardModel(server, in: dir)
        let jobID = try #require(job["id"] as? String)

        let curl = try Curl.run([server.baseURL + "/v1/jobs/\(jobID)/report"])
        #expect(curl.status == 200)
        #expect(curl.final?.header("Content-Type")?.hasPrefix("application/json") == true)
        let report = curl.json
        let gz = try server.downloadArtifact(jobID)
        let plain = try Subprocess.gunzip(writeTemporary(gz, in: dir))

        let tensors = try #require(report["tensors"] as? [[String: Any]])
        #expect(tensors.count == fixture.tensors.count)
        for t in fixture.tensors {
            guard let entry = tensors.first(where: { $0["name"] as? String == t.name }) else {
                Issue.record("report lacks \(t.name)")
                continue
            }
            let before = t.values.count * t.dtype.byteWidth
            #expect(entry["bytes_before"] as? Int == before, "\(t.name)")
            #expect(entry["shape"] as? [Int] == t.shape)
            if W8ArtifactVerification.isQuantized(t) {
                #expect(entry["action"] as? String == "compressed", "\(t.name)")
                let rows = t.shape[0]
                let scaleBytes = rows * (t.dtype == .float16 ? 2 : 4)
                #expect(entry["bytes_after"] as? Int == t.values.count + scaleBytes, "\(t.name): codes plus scales")
                let bits = try #require(entry["bits_per_weight"] as? Double)
                #expect(bits > 8 && bits < 8.6, "\(t.name) bits_per_weight \(bits)")
                let sqnr = try #require(entry["sqnr_db"] as? Double, "\(t.name) has sqnr_db")
                #expect(sqnr > 30, "\(t.name): int8 per-channel on uniform weights gives ~40 dB, got \(sqnr)")
                let maxError = try #require(entry["max_abs_error"] as? Double)
                let maxAbs = Double(t.values.map(abs).max()!)
                #expect(maxError > 0 && maxError <= maxAbs / 127 * 0.54, "\(t.name) max_abs_error \(maxError)")
            } else {
                #expect(entry["action"] as? String == "unchanged", "\(t.name)")
                #expect(entry["bytes_after"] as? Int == before)
                #expect(entry["bits_per_weight"] as? Double == Double(t.dtype.byteWidth * 8))
                #expect(entry["sqnr_db"] is NSNull || entry["sqnr_db"] == nil)
            }
        }
        let totals = try #require(report["totals"] as? [String: Any])
        let parameters = fixture.tensors.reduce(0) { $0 + $1.values.count }
        #expect(totals["parameters"] as? Int == parameters)
        #expect(totals["tensors"] as? Int == fixture.tensors.count)
        #expect(totals["quantized_tensors"] as? Int == fixture.tensors.filter(W8ArtifactVerification.isQuantized).count)
        #expect(totals["gzip_bytes"] as? Int == gz.count, "gzip_bytes is the size of the stored artifact")
        #expect(totals["artifact_bytes"] as? Int == plain.count, "artifact_bytes is the size before gzip")
        #expect(totals["upload_bytes"] as? Int == fixture.bytes.count)
        #expect(totals["float16_bytes"] as? Int == parameters * 2)
        let ratio = try #require(totals["compression_ratio_vs_float16"] as? Double)
        #expect(ratio > 1.9, "mostly large fp16 tensors at int8 should nearly halve; got \(ratio)")
        #expect(job["artifact_bytes"] as? Int == gz.count, "the job resource reports the stored size too")
    }
}

/// Writes bytes to a new file in `dir` and returns its path.
func writeTemporary(_ bytes: [UInt8], in dir: String, name: String = UUID().uuidString) throws -> String {
    let path = dir + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}
