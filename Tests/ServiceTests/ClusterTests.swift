import Foundation
import Glibc
import PostgresTestSupport
import Synchronization
import Testing

/// Several real `quantd serve` processes on one PostgreSQL database and one data directory,
/// as a team runs them behind a load balancer.
@Suite("cluster", .serialized)
struct ClusterTests {
    static func settings(_ url: String, node: String, lease: Int) -> [String] {
        ["storage.database_url=\(url)", "cluster.node_id=\(node)", "jobs.workers=1", "jobs.lease_seconds=\(lease)",
         "jobs.queue_capacity=500", "storage.retention_hours=0", "datasets.retention_hours=0", "log.level=info"]
    }

    @Test("three nodes: 60 jobs each run once, a killed node's jobs finish elsewhere, waits and keys cross nodes")
    func threeNodes() throws {
        let url = try TestDatabase.make(prefix: "cluster")
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/shared"
        let names = ["n0", "n1", "n2"]
        var nodes = try names.map { try QuantdProcess(dataDirectory: data, settings: Self.settings(url, node: $0, lease: 4), workingDirectory: root) }
        defer { nodes.forEach { $0.terminate() } }

        // Uploaded once on one node, seen by every node.
        let small = try #require(try nodes[0].uploadModel(SafetensorsFixture.standard().bytes)["id"] as? String)
        let large = try #require(try nodes[1].uploadModel(SafetensorsFixture.large(megabytes: 42).bytes)["id"] as? String)
        #expect(try nodes[2].get("/v1/models/\(large)").status == 200)

        // Large jobs first, so every node is busy with one when n2 is killed; then small ones.
        var ids: [String] = []
        for i in 0..<60 { ids.append(try nodes[i % 3].createJob(modelID: i < 9 ? large : small)) }

        // kill -9 n2 while it runs a job.
        var orphaned: [String] = []
        let deadline = Date().addingTimeInterval(120)
        while orphaned.isEmpty && Date() < deadline {
            let running = try nodes[0].get("/v1/jobs?status=running&limit=500").json["jobs"] as? [[String: Any]] ?? []
            if running.contains(where: { $0["node"] as? String == "n2" }) {
                nodes[2].killHard()
                let after = try nodes[0].get("/v1/jobs?status=running&limit=500").json["jobs"] as? [[String: Any]] ?? []
                orphaned = after.filter { $0["node"] as? String == "n2" }.compactMap { $0["id"] as? String }
                if orphaned.isEmpty { break }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(!orphaned.isEmpty, "n2 was killed in the middle of a job")

        // Every job, waited for by long-poll on n0 whichever node runs it.
        var crossNodeWaits = 0
        for id in ids {
            var job: [String: Any] = [:]
            for _ in 0..<12 {
                let answer = try nodes[0].get("/v1/jobs/\(id)?wait=25")
                job = answer.json
                if ["succeeded", "failed", "cancelled"].contains(job["status"] as? String ?? "") { break }
            }
            #expect(job["status"] as? String == "succeeded", "job \(id): \(job)\nn0 log:\n\(nodes[0].log)")
            if job["node"] as? String == "n1" { crossNodeWaits += 1 }
            if orphaned.contains(id) {
                #expect(job["attempts"] as? Int == 2, "the killed node's job ran again once: \(job)")
                #expect(job["node"] as? String != "n2")
            } else {
                #expect(job["attempts"] as? Int == 1, "job \(id) ran once: \(job)")
            }
        }
        #expect(crossNodeWaits > 0, "some long-polls on n0 saw jobs finish on n1")
        let artifacts = nodes[0].files(in: data + "/artifacts")
        #expect(artifacts.filter { $0.hasSuffix(".gz") }.count == 60)
        #expect(artifacts.filter { $0.hasSuffix(".report.json") }.count == 60)
        // Any node serves any artifact.
        #expect(try nodes[1].get("/v1/jobs/\(ids[0])/artifact").status == 200)
        let metrics = try nodes[0].get("/metrics").text + (try nodes[1].get("/metrics").text)
        #expect(metrics.contains(#"quantd_node_info{node="n0",store="postgres"} 1"#))
        #expect(Self.sum(metrics, prefix: "quantd_jobs_requeued_total{") == Double(orphaned.count))

        // The same Idempotency-Key sent to two nodes at once is one job.
        let answers = Mutex<[HTTPTestResponse]>([])
        let body = Array(#"{"model_id":"\#(small)","preset":"w8-per-tensor"}"#.utf8)
        let ports = [nodes[0].port, nodes[1].port]
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            if let r = try? RawHTTPClient.request(port: ports[i % 2], "POST", "/v1/jobs", headers: [("Content-Type", "application/json"), ("Idempotency-Key", "release-42")], body: body) {
                answers.withLock { $0.append(r) }
            }
        }
        let responses = answers.withLock { $0 }
        #expect(responses.count == 4 && responses.allSatisfy { $0.status == 202 }, "\(responses.map(\.text))")
        #expect(Set(responses.compactMap { $0.json["id"] as? String }).count == 1)
        #expect(responses.filter { $0.header("Idempotent-Replayed") == "true" }.count == 3)

        // A second process given a live node's name refuses to start rather than take its jobs.
        #expect(throws: (any Error).self) {
            _ = try QuantdProcess(dataDirectory: data, settings: Self.settings(url, node: "n0", lease: 4), workingDirectory: root)
        }

        // The killed node, started again, empties its own tmp/ and takes work again.
        Thread.sleep(forTimeInterval: 0.1)
        nodes[2] = try QuantdProcess(dataDirectory: data, settings: Self.settings(url, node: "n2", lease: 4), workingDirectory: root)
        #expect(nodes[2].files(in: data + "/tmp/n2").isEmpty)
        let restarted = nodes[2]
        #expect(try waitUntil(timeout: 10) { try restarted.get("/readyz").status == 200 }, "ready once it listens for notifications")
    }

    @Test("a database restart: 503 problems meanwhile, then the nodes carry on, no job lost or run twice")
    func databaseRestart() throws {
        let url = try TestDatabase.make(prefix: "outage")
        let cluster = try TestDatabase.clusterDirectory()
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/shared"
        let nodes = try ["a", "b"].map { try QuantdProcess(dataDirectory: data, settings: Self.settings(url, node: $0, lease: 20), workingDirectory: root) }
        defer { nodes.forEach { $0.terminate() } }
        let model = try #require(try nodes[0].uploadModel(SafetensorsFixture.large(megabytes: 42).bytes)["id"] as? String)
        let ids = try (0..<4).map { try nodes[$0 % 2].createJob(modelID: model) }
        #expect(try waitUntil(timeout: 60) { try nodes[0].job(ids[0])["status"] as? String != "queued" })

        try Self.postgresCluster("stop", cluster)
        var restarted = false
        defer { if !restarted { try? Self.postgresCluster("start", cluster) } }
        for node in nodes {
            let job = try node.get("/v1/jobs/\(ids[3])")
            #expect(job.status == 503, "\(job.text)")
            #expect(job.header("Content-Type") == "application/problem+json")
            #expect(job.header("Retry-After") != nil)
            #expect(try node.get("/readyz").status == 503)
            #expect(try node.get("/healthz").status == 200, "the process itself is alive")
        }
        Thread.sleep(forTimeInterval: 2)
        try Self.postgresCluster("start", cluster)
        restarted = true

        #expect(try waitUntil(timeout: 30) { try nodes.allSatisfy { try $0.get("/readyz").status == 200 } }, "both nodes ready again")
        for id in ids {
            let job = try nodes[1].waitForJob(id, timeout: 180)
            #expect(job["status"] as? String == "succeeded", "job \(id): \(job)\nlog a:\n\(nodes[0].log)")
            #expect(job["attempts"] as? Int == 1, "job \(id) ran once: \(job)")
        }
        #expect(nodes[0].files(in: data + "/artifacts").filter { $0.hasSuffix(".gz") }.count == 4)
    }

    /// `scripts/postgres-cluster stop|start DIR`, by posix_spawn and waitpid: Foundation's
    /// `Process.waitUntilExit` was seen never to return once the script had started the server.
    static func postgresCluster(_ command: String, _ dir: String) throws {
        let path = Repository.root + "/scripts/postgres-cluster"
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup(command), strdup(dir), nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, nil, nil, arguments, environ) == 0 else { throw TestFailure("cannot run \(path)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw TestFailure("scripts/postgres-cluster \(command) failed (wait status \(status))") }
    }

    /// The sum of every sample whose line starts with `prefix`.
    static func sum(_ metrics: String, prefix: String) -> Double {
        metrics.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }
}
