import Foundation
import Testing
@testable import Service

@Suite struct ConfigurationTests {
    @Test func defaultsMatchTheShippedConfigFile() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fromFile = try Configuration.load(file: repo.appendingPathComponent("config/quantd.json").path, environment: [:], overrides: [:])
        #expect(fromFile == Configuration())
    }

    @Test func everyKeyIsInTheShippedConfigFile() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: repo.appendingPathComponent("config/quantd.json"))
        let sections = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        let fileKeys = Set(sections.flatMap { section, values in values.keys.map { "\(section).\($0)" } })
        #expect(fileKeys == Set(Configuration.keys.map(\.key)))
    }

    @Test func environmentOverridesFileAndFlagsOverrideEnvironment() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("quantd-\(UUID()).json")
        try Data(#"{"server": {"port": 1111}, "jobs": {"workers": 3}}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let c = try Configuration.load(file: file.path,
                                       environment: ["QUANTD_SERVER_PORT": "2222", "QUANTD_JOBS_QUEUE_CAPACITY": "7"],
                                       overrides: ["server.port": "3333"])
        #expect(c.port == 3333)
        #expect(c.workers == 3)
        #expect(c.queueCapacity == 7)
    }

    @Test func environmentNamesFollowTheKeys() {
        #expect(Configuration.environmentName("server.max_upload_bytes") == "QUANTD_SERVER_MAX_UPLOAD_BYTES")
        #expect(Configuration.environmentName("storage.data_dir") == "QUANTD_STORAGE_DATA_DIR")
    }

    @Test(arguments: [
        ("server.port", "70000"), ("server.port", "-1"), ("jobs.workers", "two"),
        ("gzip.level", "0"), ("gzip.level", "10"), ("gzip.chunk_bytes", "1024"), ("gzip.member_bytes", "1024"),
        ("server.idle_timeout_seconds", "nan"),
        ("storage.database_url", "mysql://db/quantd"), ("storage.database_pool_size", "0"), ("jobs.max_attempts", "0"),
        ("jobs.lease_seconds", "0.5"), ("cluster.node_id", "../escape"), ("cluster.node_id", "a b"),
    ])
    func rejectsBadValues(key: String, value: String) {
        #expect(throws: Configuration.LoadError.self) {
            try Configuration.load(file: nil, environment: [:], overrides: [key: value])
        }
    }

    @Test func rejectsUnknownKeysNamingThem() {
        do {
            _ = try Configuration.load(file: nil, environment: [:], overrides: ["server.prot": "1"])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("server.prot"))
        }
    }

    @Test func theDatabaseURLChoosesTheStoreAndTheNodeIDDefaultsToTheHostName() throws {
        #expect(Configuration().storeKind == .sqlite)
        let url = "postgres://quantd:secret@db:5432/quantd?sslmode=require"
        let c = try Configuration.load(file: nil, environment: ["QUANTD_STORAGE_DATABASE_URL": url, "QUANTD_CLUSTER_NODE_ID": "node-1"], overrides: [:])
        #expect(c.storeKind == .postgres(url: url))
        #expect(c.resolvedNodeID == "node-1")
        #expect(!Configuration().resolvedNodeID.isEmpty)
        #expect(!Configuration().resolvedNodeID.contains("/"))
    }

    @Test func apiTokensSplitOnCommas() throws {
        let c = try Configuration.load(file: nil, environment: ["QUANTD_SERVER_API_TOKENS": "a, b,,c"], overrides: [:])
        #expect(c.apiTokens == ["a", "b", "c"])
    }
}
