import Foundation
import Logging
import Testing
@testable import Service

@Suite struct RetentionTests {
    @Test func removesOldOutputsAndUnusedModelsButSparesActiveWork() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("retention-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = DataDirectory(root: root)
        try data.prepare()
        let store = try SQLiteJobStore(path: data.database)
        let context = ServiceContext(config: Configuration(), data: data, store: store, metrics: Metrics(),
                                     logger: Logger(label: "test"), openapiDocument: [], catalog: try DeviceCatalogFile.load(""),
                                     packages: OpenedPackages(), tokens: try TokenRegistry(apiTokens: [], tokensPath: ""))
        let old = Date(timeIntervalSinceNow: -10 * 3600)
        for id in ["idle", "busy"] {
            _ = FileManager.default.createFile(atPath: data.model(id), contents: Data([1]))
            try store.upsertModel(StoredModel(id: id, format: "safetensors", bytes: 1, tensorCount: 1, parameterCount: 1, createdAt: old, lastUsedAt: old), tenant: "default")
        }
        var done = JobStoreTests.job("job_old", status: .succeeded, finished: old)
        done.modelId = "idle"
        try store.insert(done)
        var running = JobStoreTests.job("job_run", status: .running)
        running.modelId = "busy"
        try store.insert(running)
        for path in [data.artifact(job: "job_old"), data.report(job: "job_old")] {
            _ = FileManager.default.createFile(atPath: path, contents: Data([1]))
        }

        Retention(context: context).sweep(olderThan: Date(timeIntervalSinceNow: -3600))

        #expect(!FileManager.default.fileExists(atPath: data.artifact(job: "job_old")))
        #expect(!FileManager.default.fileExists(atPath: data.report(job: "job_old")))
        #expect(try store.job("job_old")?.expired == true)
        #expect(!FileManager.default.fileExists(atPath: data.model("idle")))
        #expect(try store.model("idle") == nil)
        #expect(FileManager.default.fileExists(atPath: data.model("busy")))
        #expect(try store.model("busy") != nil)
    }

    @Test func prepareEmptiesTmp() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("prepare-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = DataDirectory(root: root)
        try data.prepare()
        _ = FileManager.default.createFile(atPath: data.temporary("half-written"), contents: Data([1, 2]))
        try data.prepare()
        #expect(try FileManager.default.contentsOfDirectory(atPath: data.tmp).isEmpty)
    }
}
