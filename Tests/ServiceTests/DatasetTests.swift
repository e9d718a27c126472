import Execution
import Foundation
import GRDB
import Logging
import ModelFormats
import Testing
@testable import Service

/// Sample datasets through the real server: npz (stored and deflated, as numpy writes them) and
/// safetensors uploads, their metadata, listing and deletion per tenant, content addressing,
/// limits, every broken upload as a 4xx problem, retention, the quota and the v6 migration.
@Suite("datasets", .serialized)
struct DatasetTests {
    static let python = ProcessInfo.processInfo.environment["QUANTD_ORACLE_PYTHON"] ?? Repository.root + "/.venv/bin/python"

    /// Tests/oracle/fixtures/make_datasets.py's files, made once with numpy.
    static let fixtures = Result { () throws -> String in
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFailure("\(python) missing: run scripts/test, which creates the oracle virtualenv (or set QUANTD_ORACLE_PYTHON)")
        }
        let directory = try makeTemporaryDirectory("quantd-datasets")
        let run = try Subprocess.run(python, [Repository.root + "/Tests/oracle/fixtures/make_datasets.py", directory])
        guard run.exitCode == 0 else { throw TestFailure("make_datasets.py failed: \(run.stderr)") }
        return directory
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        let path = try fixtures.get() + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { throw TestFailure("no fixture \(path)") }
        return Array(data)
    }

    static let vision = [("Authorization", "Bearer tv")]
    static let speech = [("Authorization", "Bearer ts")]

    static func upload(_ server: TestServer, _ bytes: [UInt8], headers: [(String, String)] = []) throws -> HTTPTestResponse {
        try server.request("POST", "/v1/datasets", headers: headers + [("Content-Type", "application/octet-stream")], body: bytes)
    }

    @Test func npzStoredOrDeflatedAndSafetensorsAreStoredWithTheirArrays() throws {
        let server = try TestServer { $0.datasetRetentionHours = 24 }
        defer { server.stop() }
        var ids: [String] = []
        for name in ["stored.npz", "deflated.npz"] {
            let bytes = try Self.fixture(name)
            let response = try Self.upload(server, bytes)
            #expect(response.status == 201, "\(name): \(response.text)")
            let json = response.json
            let id = try #require(json["id"] as? String)
            #expect(response.header("Location") == "/v1/datasets/\(id)")
            #expect(json["format"] as? String == "npz")
            #expect(json["bytes"] as? Int == bytes.count)
            #expect(json["samples"] as? Int == 6)
            let arrays = try #require(json["arrays"] as? [[String: Any]])
            #expect(arrays.map { $0["name"] as? String } == ["x", "ids"])
            #expect(arrays.map { $0["dtype"] as? String } == ["float32", "int64"])
            #expect(arrays.map { $0["shape"] as? [Int] } == [[6, 3, 4, 4], [6, 5]])
            let created = try #require((json["created_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            let expires = try #require((json["expires_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expires.timeIntervalSince(created) - 24 * 3600) < 1)
            let fetched = try server.get("/v1/datasets/\(id)")
            #expect(fetched.status == 200)
            #expect(fetched.json["arrays"] as? [[String: AnyHashable]] == json["arrays"] as? [[String: AnyHashable]])
            ids.append(id)
        }
        let safetensors = try Self.upload(server, try Self.fixture("samples.safetensors"))
        #expect(safetensors.status == 201, "\(safetensors.text)")
        #expect(safetensors.json["format"] as? String == "safetensors")
        #expect((safetensors.json["arrays"] as? [[String: Any]])?.map { $0["dtype"] as? String } == ["float32", "bool"])
        ids.append(try #require(safetensors.json["id"] as? String))
        #expect(server.files(in: server.dataDirectory + "/datasets") == ids.sorted())
        #expect(server.files(in: server.tmpDirectory).isEmpty)

        let list = try server.get("/v1/datasets?limit=2")
        #expect(list.status == 200)
        #expect((list.json["datasets"] as? [[String: Any]])?.map { $0["id"] as? String } == [ids[2], ids[1]])
        let cursor = try #require(list.json["next_cursor"] as? String)
        let rest = try server.get("/v1/datasets?limit=2&cursor=\(cursor)")
        #expect((rest.json["datasets"] as? [[String: Any]])?.map { $0["id"] as? String } == [ids[0]])
        #expect(rest.json["next_cursor"] is NSNull)
        expectProblem(try server.get("/v1/datasets?cursor=abc"), status: 400, "bad cursor")
    }

    @Test func aMultipartDatasetPartIsTheFile() throws {
        let server = try TestServer()
        defer { server.stop() }
        let bytes = try Self.fixture("stored.npz")
        let boundary = "quantd-boundary"
        let body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"dataset\"; filename=\"samples.npz\"\r\n\r\n".utf8)
            + bytes + Array("\r\n--\(boundary)--\r\n".utf8)
        let response = try server.request("POST", "/v1/datasets", headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: body)
        #expect(response.status == 201, "\(response.text)")
        #expect(response.json["bytes"] as? Int == bytes.count)
        let wrongPart = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m\"\r\n\r\n".utf8)
            + bytes + Array("\r\n--\(boundary)--\r\n".utf8)
        let refused = try server.request("POST", "/v1/datasets", headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: wrongPart)
        expectProblem(refused, status: 400, "no dataset part")
        #expect((refused.json["detail"] as? String)?.contains("-F dataset=@FILE") == true)
    }

    @Test func theSameBytesByTwoTenantsAreOneFileUntilTheLastOwnerDeletesThem() throws {
        let (server, dir) = try TenantTests.server()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let bytes = try Self.fixture("deflated.npz")
        let first = try Self.upload(server, bytes, headers: Self.vision)
        #expect(first.status == 201)
        let id = try #require(first.json["id"] as? String)
        expectProblem(try server.request("GET", "/v1/datasets/\(id)", headers: Self.speech), status: 404, "another tenant's dataset")
        expectProblem(try server.request("DELETE", "/v1/datasets/\(id)", headers: Self.speech), status: 404, "deleting another tenant's")
        #expect((try server.request("GET", "/v1/datasets", headers: Self.speech).json["datasets"] as? [Any])?.isEmpty == true)

        #expect(try Self.upload(server, bytes, headers: Self.speech).status == 201)
        #expect(try Self.upload(server, bytes, headers: Self.vision).status == 201, "again by the same tenant")
        #expect(server.files(in: server.dataDirectory + "/datasets") == [id])
        #expect((try server.request("GET", "/v1/datasets", headers: Self.vision).json["datasets"] as? [Any])?.count == 1)

        let deleted = try server.request("DELETE", "/v1/datasets/\(id)", headers: Self.vision)
        #expect(deleted.status == 204 && deleted.body.isEmpty)
        expectProblem(try server.request("GET", "/v1/datasets/\(id)", headers: Self.vision), status: 404, "deleted")
        #expect(try server.request("GET", "/v1/datasets/\(id)", headers: Self.speech).status == 200, "still speech's")
        #expect(server.files(in: server.dataDirectory + "/datasets") == [id])
        #expect(try server.request("DELETE", "/v1/datasets/\(id)", headers: Self.speech).status == 204)
        #expect(server.files(in: server.dataDirectory + "/datasets").isEmpty)
        expectProblem(try server.request("DELETE", "/v1/datasets/\(id)", headers: Self.speech), status: 404, "deleted twice")
    }

    @Test func overTheByteLimitIs413BeforeTheBodyAndOverTheSampleLimitIs422() throws {
        let many = try Self.fixture("many.npz")
        let server = try TestServer {
            $0.datasetMaxBytes = UInt64(many.count)
            $0.datasetMaxSamples = 10
        }
        defer { server.stop() }
        let tooLarge = try Self.upload(server, many + [0])
        expectProblem(tooLarge, status: 413, "over datasets.max_bytes")
        #expect((tooLarge.json["type"] as? String)?.hasSuffix("/dataset-too-large") == true)
        #expect((tooLarge.json["detail"] as? String)?.contains("datasets.max_bytes") == true)
        let tooMany = try Self.upload(server, many)
        expectProblem(tooMany, status: 422, "over datasets.max_samples")
        #expect((tooMany.json["detail"] as? String)?.contains("holds 50 samples, over the limit of 10 (datasets.max_samples)") == true)
        #expect(server.files(in: server.dataDirectory + "/datasets").isEmpty)
        #expect(server.files(in: server.tmpDirectory).isEmpty)
    }

    @Test func everyBrokenUploadIsA4xxProblemSayingWhatToFixAndNothingIsStored() throws {
        let server = try TestServer()
        defer { server.stop() }
        let cases: [(file: String, status: Int, detail: String)] = [
            ("nan.npz", 422, "array 'x' holds NaN or an infinity (as float32) in sample 4"),
            ("inf-as-float32.npz", 422, "array 'h' holds NaN or an infinity (as float32) in sample 2"),
            ("object.npz", 422, "array 'o' has dtype '|O'"),
            ("complex.npz", 422, "array 'c' has dtype '<c8'"),
            ("unequal.npz", 422, "array 'b' holds 4 samples but array 'a' holds 5"),
            ("no-samples.npz", 422, "array 'a' holds 0 samples"),
            ("scalar.npz", 422, "array 's' is a scalar"),
            ("truncated.npz", 422, ".npz"),
            ("bfloat16.safetensors", 422, "array 'b' has dtype BF16"),
            ("bare.npy", 415, "a single .npy array; save it with np.savez instead"),
            ("text.txt", 415, "send a NumPy .npz"),
        ]
        for (file, status, detail) in cases {
            let response = try Self.upload(server, try Self.fixture(file))
            expectProblem(response, status: status, file)
            let text = response.json["detail"] as? String ?? ""
            #expect(text.contains(detail), "\(file): \(text)")
        }
        expectProblem(try Self.upload(server, []), status: 400, "empty body")
        #expect(server.files(in: server.dataDirectory + "/datasets").isEmpty)
        #expect(server.files(in: server.tmpDirectory).isEmpty)
        #expect(try server.get("/healthz").status == 200)
        #expect(try Self.upload(server, try Self.fixture("stored.npz")).status == 201, "still serving uploads")
    }

    @Test func storedDatasetsCountTowardTheTenantsStorageQuota() throws {
        let bytes = try Self.fixture("stored.npz")
        let model = SafetensorsFixture.standard(seed: 35).bytes
        let (server, dir) = try TenantTests.server { $0.tenantMaxStoredBytes = Int64(bytes.count + 100) }
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Self.upload(server, bytes, headers: Self.vision).status == 201)
        #expect(try Self.upload(server, bytes, headers: Self.vision).status == 201, "the same bytes again cost nothing")
        let refused = try server.request("POST", "/v1/models", headers: Self.vision, body: model)
        expectProblem(refused, status: 413, "a model over the quota datasets use")
        #expect((refused.json["type"] as? String)?.hasSuffix("/storage-quota-exceeded") == true)
        let second = try Self.upload(server, try Self.fixture("deflated.npz"), headers: Self.vision)
        expectProblem(second, status: 413, "a second dataset over the quota")
        #expect(server.files(in: server.dataDirectory + "/datasets").count == 1)
    }

    @Test func retentionEndsEachOwnershipUnusedSinceTheCutoffAndTheFileWithTheLast() throws {
        let root = try makeTemporaryDirectory("dataset-retention")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = DataDirectory(root: root)
        try data.prepare()
        let store = try SQLiteJobStore(path: data.database)
        let context = ServiceContext(config: Configuration(), data: data, store: store, metrics: Metrics(),
                                     logger: Logger(label: "test"), openapiDocument: [], catalog: try DeviceCatalogFile.load(""),
                                     packages: OpenedPackages(), tokens: try TokenRegistry(apiTokens: [], tokensPath: ""))
        let old = Date(timeIntervalSinceNow: -10 * 3600)
        let signature = DatasetSignature(arrays: [.init(name: "x", elementType: .float32, shape: [2, 3])])
        for (id, owners) in [("lapsed", [("vision", old)]), ("shared", [("vision", old), ("speech", Date())])] {
            _ = FileManager.default.createFile(atPath: data.dataset(id), contents: Data([1]))
            for (tenant, used) in owners {
                try store.upsertDataset(StoredDataset(id: id, format: "npz", bytes: 1, signature: signature, createdAt: old, lastUsedAt: used),
                                        tenant: tenant)
            }
        }

        Retention(context: context).sweepDatasets(unusedSince: Date(timeIntervalSinceNow: -3600))

        #expect(!FileManager.default.fileExists(atPath: data.dataset("lapsed")))
        #expect(try store.dataset("lapsed", ownedBy: "vision") == nil)
        #expect(FileManager.default.fileExists(atPath: data.dataset("shared")))
        #expect(try store.dataset("shared", ownedBy: "vision") == nil)
        #expect(try store.dataset("shared", ownedBy: "speech")?.signature == signature)
    }

    @Test func aVersion5DatabaseMigratesKeepingItsModelsAndJobs() throws {
        let root = try makeTemporaryDirectory("dataset-migration")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/quantd.sqlite"
        let pool = try DatabasePool(path: path)
        try SQLiteJobStore.migrator.migrate(pool, upTo: "v5: onnx_format")
        let model = StoredModel(id: "m", format: "safetensors", bytes: 10, tensorCount: 1, parameterCount: 4, createdAt: Date(), lastUsedAt: Date())
        try pool.write { db in
            try model.insert(db)
            try db.execute(sql: "INSERT INTO model_owners (model_id, tenant) VALUES ('m', 'default')")
            // The v5 table's columns, as a v5 server wrote them.
            try db.execute(sql: """
                INSERT INTO jobs (id, tenant, model_id, status, progress, config, created_at, finished_at, artifact_bytes, attempts, expired, revision)
                VALUES ('job_v5', 'default', 'm', 'succeeded', 1, '{}', ?, ?, 7, 1, 0, 1)
                """, arguments: [Date(), Date()])
        }
        try pool.close()

        let store = try SQLiteJobStore(path: path)
        #expect(try store.model("m", ownedBy: "default")?.bytes == 10)
        #expect(try store.job("job_v5")?.status == .succeeded)
        // v7 added the evaluation column, empty for jobs from before.
        #expect(try store.job("job_v5")?.evaluationDatasetId == nil)
        #expect(try store.storedBytes(tenant: "default") == 17)
        let signature = DatasetSignature(arrays: [.init(name: "ids", elementType: .int64, shape: [4, 8])])
        try store.upsertDataset(StoredDataset(id: "d", format: "npz", bytes: 5, signature: signature, createdAt: Date(), lastUsedAt: Date()),
                                tenant: "default")
        #expect(try store.storedBytes(tenant: "default") == 22)
        #expect(try store.dataset("d", ownedBy: "default")?.signature == signature)
    }

    /// What evaluation uses: a stored dataset opened by id for its tenant, its arrays widened,
    /// and checked against a model's inputs.
    @Test func aStoredDatasetOpensForItsTenantWithItsValuesAndBindsToAModel() throws {
        let root = try makeTemporaryDirectory("dataset-open")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = DataDirectory(root: root)
        try data.prepare()
        let store = try SQLiteJobStore(path: data.database)
        let context = ServiceContext(config: Configuration(), data: data, store: store, metrics: Metrics(),
                                     logger: Logger(label: "test"), openapiDocument: [], catalog: try DeviceCatalogFile.load(""),
                                     packages: OpenedPackages(), tokens: try TokenRegistry(apiTokens: [], tokensPath: ""))
        let inputs = [GraphInput(name: "x", elementType: .float32, shape: [nil, 3, 4, 4]),
                      GraphInput(name: "ids", elementType: .int64, shape: [nil, 5])]
        for name in ["stored.npz", "deflated.npz"] {
            let bytes = try Self.fixture(name)
            let path = data.dataset(name)
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let file = try APIResponder.checkedDataset(at: path, maxSamples: 10)
            try store.upsertDataset(StoredDataset(id: name, format: file.format.rawValue, bytes: Int64(bytes.count), signature: file.signature,
                                                  createdAt: Date(), lastUsedAt: Date()), tenant: "vision")
            #expect(try context.openDataset(name, tenant: "speech") == nil)
            let opened = try #require(try context.openDataset(name, tenant: "vision"))
            #expect(opened.file.array(named: "x") == ConstantTensor(shape: [6, 3, 4, 4], elements: .float32((0..<288).map { Float(Float32($0) / 10) })))
            #expect(opened.file.array(named: "ids") == ConstantTensor(shape: [6, 5], elements: .int64(Array(0..<30))))
            let binding = try DatasetBinding(opened.file.signature, inputs: inputs)
            #expect(binding.feeds.map(\.array.name) == ["x", "ids"])
        }
        let fortran = try DatasetFile(path: try Self.fixtures.get() + "/fortran.npz")
        #expect(fortran.array(named: "m") == ConstantTensor(shape: [3, 4], elements: .float32((0..<12).map(Float.init))))
        let safetensors = try DatasetFile(path: try Self.fixtures.get() + "/samples.safetensors")
        #expect(safetensors.array(named: "mask") == ConstantTensor(shape: [6], elements: .bool([true, false, true, true, false, true])))
    }
}
