import Foundation
import Logging
import Synchronization
import Testing
@testable import Service

/// Where the repository is, found from this file's path.
enum Repository {
    static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// A fresh directory under the system temp dir; the caller removes it.
func makeTemporaryDirectory(_ prefix: String = "quantd-it") throws -> String {
    let path = NSTemporaryDirectory() + prefix + "-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Polls `condition` every 50 ms for up to `timeout` seconds; true as soon as it holds.
@discardableResult
func waitUntil(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: 0.05)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What every way of running quantd offers a test: its port and data directory, and the API
/// calls the flows are made of, each on its own connection.
protocol QuantdEndpoint {
    var port: Int { get }
    var dataDirectory: String { get }
    /// Added to every request (e.g. an Authorization header).
    var defaultHeaders: [(String, String)] { get }
}

extension QuantdEndpoint {
    var defaultHeaders: [(String, String)] { [] }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> HTTPTestResponse {
        try RawHTTPClient.request(port: port, method, path, headers: defaultHeaders + headers, body: body)
    }

    func get(_ path: String, headers: [(String, String)] = []) throws -> HTTPTestResponse {
        try request("GET", path, headers: headers)
    }

    func postJSON(_ path: String, _ object: Any) throws -> HTTPTestResponse {
        let body = try JSONSerialization.data(withJSONObject: object)
        return try request("POST", path, headers: [("Content-Type", "application/json")], body: Array(body))
    }

    /// Uploads raw model bytes and returns the model resource; fails unless the answer is 201.
    func uploadModel(_ bytes: [UInt8]) throws -> [String: Any] {
        let response = try request("POST", "/v1/models", headers: [("Content-Type", "application/octet-stream")], body: bytes)
        guard response.status == 201 else { throw TestFailure("upload answered \(response.status): \(response.text)") }
        return response.json
    }

    /// Queues a job and returns its id; fails unless the answer is 202.
    func createJob(modelID: String, preset: String = "w8") throws -> String {
        let response = try postJSON("/v1/jobs", ["model_id": modelID, "preset": preset])
        guard response.status == 202, let id = response.json["id"] as? String else {
            throw TestFailure("job creation answered \(response.status): \(response.text)")
        }
        return id
    }

    func job(_ id: String) throws -> [String: Any] {
        let response = try get("/v1/jobs/\(id)")
        guard response.status == 200 else { throw TestFailure("GET job \(id) answered \(response.status): \(response.text)") }
        return response.json
    }

    /// Polls a job until it finishes (succeeded, failed or cancelled), for up to `timeout` s.
    func waitForJob(_ id: String, timeout: Double = 60) throws -> [String: Any] {
        var last: [String: Any] = [:]
        let finished = try waitUntil(timeout: timeout) {
            last = try job(id)
            return ["succeeded", "failed", "cancelled"].contains(last["status"] as? String ?? "")
        }
        guard finished else { throw TestFailure("job \(id) did not finish within \(timeout) s; last seen \(last)") }
        return last
    }

    /// Uploads a model, runs a w8 job on it and waits; fails unless it succeeds.
    func succeededJob(_ model: [UInt8], preset: String = "w8") throws -> (modelID: String, jobID: String) {
        guard let modelID = try uploadModel(model)["id"] as? String else { throw TestFailure("upload returned no id") }
        let jobID = try createJob(modelID: modelID, preset: preset)
        let job = try waitForJob(jobID)
        guard job["status"] as? String == "succeeded" else { throw TestFailure("job ended \(job)") }
        return (modelID, jobID)
    }

    /// The artifact as stored (gzip), fetched without Accept-Encoding.
    func downloadArtifact(_ jobID: String) throws -> [UInt8] {
        let response = try get("/v1/jobs/\(jobID)/artifact")
        guard response.status == 200 else { throw TestFailure("artifact answered \(response.status): \(response.text)") }
        return response.body
    }

    var modelsDirectory: String { dataDirectory + "/models" }
    /// The node's tmp/ folder (on the embedded store, tmp/local/).
    var tmpDirectory: String { dataDirectory + "/tmp/local" }

    func files(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }
}

/// The real service, started in this process on an ephemeral port with its own data dir
/// (a real SQLite file) under a temp directory that `stop()` removes.
final class TestServer: QuantdEndpoint, Sendable {
    let service: QuantdService
    let root: String
    let dataDirectory: String
    let defaultHeaders: [(String, String)]
    private let isShutDown = Atomic(false)

    var port: Int { service.port }

    /// Defaults suited to tests: port 0, one worker, no retention sweeps, a short grace period.
    init(headers: [(String, String)] = [], _ configure: (inout Configuration) -> Void = { _ in }) throws {
        root = try makeTemporaryDirectory()
        dataDirectory = root + "/data"
        defaultHeaders = headers
        var config = Configuration()
        config.port = 0
        config.dataDirectory = dataDirectory
        config.workers = 1
        config.eventLoops = 2
        config.retentionHours = 0
        config.datasetRetentionHours = 0
        config.shutdownGracePeriod = 5
        configure(&config)
        service = try QuantdService(config: config, logger: Logger(label: "quantd-test") { _ in SwiftLogNoOpLogHandler() })
        try service.start()
    }

    /// Stops the service once, whoever asks first (a second `QuantdService.shutdown()` would
    /// wait for event loops that already stopped).
    func shutdown() {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        service.shutdown()
    }

    /// Shuts down and removes the data.
    func stop() {
        shutdown()
        try? FileManager.default.removeItem(atPath: root)
    }

    deinit { stop() }
}
