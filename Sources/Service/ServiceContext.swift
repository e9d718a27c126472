import Estimation
import Foundation
import HTTP
import Logging
import QuantCore
import Synchronization

/// Everything the routes and workers share: settings, stores, the pool, counters.
final class ServiceContext: Sendable {
    let config: Configuration
    let data: DataDirectory
    let store: any JobStore
    let metrics: Metrics
    let logger: Logger
    let openapiDocument: [UInt8]
    let catalog: DeviceCatalog
    let packages: OpenedPackages
    let tokens: TokenRegistry
    private let poolBox = Mutex<(any JobWorkers)?>(nil)
    private let serverStatistics = Mutex<HTTPServerStatistics?>(nil)
    private let draining = Atomic(false)
    private let jsonCache = Mutex<[String: (revision: Int, bytes: [UInt8])]>([:])
    /// Held while model files and rows change together (upload commit, job submission,
    /// retention), so a sweep can never delete a model an answered request relies on.
    let storage = Mutex(())

    init(config: Configuration, data: DataDirectory, store: any JobStore, metrics: Metrics, logger: Logger, openapiDocument: [UInt8],
         catalog: DeviceCatalog, packages: OpenedPackages, tokens: TokenRegistry) {
        self.config = config
        self.data = data
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.openapiDocument = openapiDocument
        self.catalog = catalog
        self.packages = packages
        self.tokens = tokens
    }

    var pool: any JobWorkers {
        guard let pool = poolBox.withLock({ $0 }) else { preconditionFailure("worker pool used before start") }
        return pool
    }

    func attach(pool: any JobWorkers) { poolBox.withLock { $0 = pool } }
    func attach(statistics: HTTPServerStatistics) { serverStatistics.withLock { $0 = statistics } }
    func startDraining() { draining.store(true, ordering: .relaxed) }

    /// The tenant a request acts for, or nil when its token is missing or unknown.
    func tenant(of head: HTTPRequestHead) -> String? {
        tokens.tenant(forAuthorization: head.headers["Authorization"])
    }

    /// The job if `tenant` created it: another tenant's job does not exist for it.
    func job(_ id: String, tenant: String) throws -> Job? {
        guard let job = try store.job(id), job.tenant == tenant else { return nil }
        return job
    }

    /// Queues a job, or with an `idempotency` key already used for the same request, returns
    /// that request's job (`replayed`) and queues nothing.
    func submit(modelID: String, tenant: String, config: CompressionPipeline, preset: String?, minimumDeploymentTarget: String?,
                onnxFormat: ONNXWeightForm? = nil, evaluationDatasetID: String? = nil,
                activations: ActivationQuantizationRequest? = nil, idempotency: IdempotencyKey? = nil) throws -> (job: Job, replayed: Bool) {
        if let idempotency, let replayed = try replay(idempotency) { return (replayed, true) }
        let configJSON = try JSONSerialization.data(withJSONObject: config.value, options: [.sortedKeys])
        func json(_ object: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        let job = Job(id: JobID.make(), tenant: tenant, modelId: modelID, status: .queued, progress: 0,
                      config: String(decoding: configJSON, as: UTF8.self), preset: preset,
                      minimumDeploymentTarget: minimumDeploymentTarget, onnxFormat: onnxFormat?.rawValue,
                      evaluationDatasetId: evaluationDatasetID,
                      activationConfig: try activations.map { try json($0.config.dictionary) },
                      calibration: try activations.map { try json($0.calibrationDictionary) }, createdAt: Date(),
                      startedAt: nil, finishedAt: nil, error: nil, artifactBytes: nil, artifactName: nil,
                      attempts: 0, expired: false, revision: 0)
        guard pool.queueDepth < self.config.queueCapacity else { throw Problem.queueFull(capacity: self.config.queueCapacity) }
        try checkQueueQuota(tenant: tenant)
        try checkStorageQuota(tenant: tenant, adding: 0)
        let earlier = try storage.withLock { _ -> IdempotencyRecord? in
            guard try store.touchModel(modelID) else {
                throw Problem.notFound("model \(modelID) does not exist (or retention just removed it); upload it again")
            }
            return try store.insert(job, idempotency: idempotency)
        }
        // The same key arrived concurrently (a retry racing its original, another node).
        if let earlier, let idempotency {
            let id = try earlier.replay(of: idempotency)
            guard let replayed = try store.job(id) else { throw Problem.gone("job \(id) of this Idempotency-Key no longer exists") }
            return (replayed, true)
        }
        do {
            try pool.submitted(job.id)
        } catch {
            _ = try? store.update(job.id) { $0.status = .cancelled; $0.error = "the queue was full"; $0.finishedAt = Date() }
            if let idempotency { try? store.forgetIdempotencyKey(idempotency) }
            throw Problem.queueFull(capacity: self.config.queueCapacity)
        }
        return (job, false)
    }

    /// The job an earlier request with the same key made; nil when the key is new; a 422 when
    /// the key came with a different request.
    func replay(_ key: IdempotencyKey) throws -> Job? {
        guard let earlier = try store.idempotencyRecord(key) else { return nil }
        let id = try earlier.replay(of: key)
        guard let job = try store.job(id) else { throw Problem.gone("job \(id) of this Idempotency-Key no longer exists") }
        return job
    }

    /// `tenants.max_queued_jobs`: one team's release day cannot fill the queue for the others.
    func checkQueueQuota(tenant: String) throws {
        let limit = config.tenantMaxQueuedJobs
        guard limit > 0 else { return }
        if try store.queuedJobCount(tenant: tenant) >= limit { throw Problem.tenantQueueFull(limit: limit) }
    }

    /// `tenants.max_stored_bytes`: models and artifacts a tenant keeps, with `adding` more.
    func checkStorageQuota(tenant: String, adding: Int64) throws {
        let limit = config.tenantMaxStoredBytes
        guard limit > 0 else { return }
        let stored = try store.storedBytes(tenant: tenant)
        if stored + adding > limit || (adding == 0 && stored >= limit) {
            throw Problem.storageQuotaExceeded(stored: stored, adding: adding, limit: limit)
        }
    }

    func cancel(_ job: Job) throws -> Job {
        _ = pool.cancel(job.id)
        // A queued job is done now. A running one notices its flag and marks itself cancelled;
        // on another node of a cluster, the request reaches it by NOTIFY and by its heartbeat.
        return try store.update(job.id) { j in
            switch j.status {
            case .queued:
                j.status = .cancelled
                j.finishedAt = Date()
            case .running: j.cancelRequested = true
            case .succeeded, .failed, .cancelled: break
            }
        } ?? job
    }

    /// The job resource as JSON, cached per revision: polling is the hottest path.
    func jobJSON(_ job: Job) -> [UInt8] {
        if let hit = jsonCache.withLock({ $0[job.id] }), hit.revision == job.revision { return hit.bytes }
        var object: [String: Any] = [
            "id": job.id, "model_id": job.modelId, "status": job.status.rawValue, "progress": job.progress,
            "created_at": Timestamp.string(job.createdAt), "attempts": job.attempts, "node": job.node ?? NSNull(),
            "preset": job.preset ?? NSNull(), "error": job.error ?? NSNull(),
            "minimum_deployment_target": job.minimumDeploymentTarget ?? NSNull(),
            "onnx_format": job.onnxFormat ?? NSNull(),
            "evaluation": job.evaluationDatasetId.map { ["dataset_id": $0] } ?? NSNull(),
            "started_at": job.startedAt.map(Timestamp.string) ?? NSNull(),
            "finished_at": job.finishedAt.map(Timestamp.string) ?? NSNull(),
        ]
        if let config = try? JSONSerialization.jsonObject(with: Data(job.config.utf8)) { object["config"] = config }
        object["activation_config"] = job.activationConfig.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? NSNull()
        object["calibration"] = job.calibration.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? NSNull()
        var links = ["self": "/v1/jobs/\(job.id)", "model": "/v1/models/\(job.modelId)"]
        if let dataset = job.evaluationDatasetId { links["dataset"] = "/v1/datasets/\(dataset)" }
        if job.status == .succeeded && !job.expired {
            links["artifact"] = "/v1/jobs/\(job.id)/artifact"
            links["report"] = "/v1/jobs/\(job.id)/report"
            object["artifact_bytes"] = job.artifactBytes ?? NSNull()
        }
        object["links"] = links
        object["expired"] = job.expired
        let bytes = Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
        jsonCache.withLock { cache in
            if cache.count > 20_000 { cache.removeAll(keepingCapacity: true) }
            cache[job.id] = (job.revision, bytes)
        }
        return bytes
    }

    func readinessProblems() -> [String] {
        var problems: [String] = []
        if draining.load(ordering: .relaxed) { problems.append("the server is shutting down") }
        if (try? store.countsByStatus()) == nil { problems.append("the job database is not readable") }
        if let shared = store as? PostgresJobStore, !shared.isListening {
            problems.append("the job database's notifications are not being received")
        }
        if !data.isWritable() { problems.append("the data directory \(data.root) is not writable") }
        if poolBox.withLock({ $0 }) == nil { problems.append("the worker pool has not started") }
        return problems
    }

    func renderMetrics() -> String {
        let stats = serverStatistics.withLock { $0 }
        let pool = poolBox.withLock { $0 }
        return metrics.render(.init(
            jobsByStatus: (try? store.countsByStatus()) ?? [:],
            queueDepth: pool?.queueDepth ?? 0, runningJobs: pool?.runningCount ?? 0,
            bytesIn: stats?.bytesIn.load(ordering: .relaxed) ?? 0, bytesOut: stats?.bytesOut.load(ordering: .relaxed) ?? 0,
            openConnections: stats?.openConnections.load(ordering: .relaxed) ?? 0,
            acceptedConnections: stats?.acceptedConnections.load(ordering: .relaxed) ?? 0,
            refusedConnections: stats?.refusedConnections.load(ordering: .relaxed) ?? 0,
            evictedConnections: stats?.evictedConnections.load(ordering: .relaxed) ?? 0,
            store: config.storeKind.name))
    }
}

/// Job ids sort by creation time (cursor pagination relies on it): 12 hex digits of
/// milliseconds since 1970, then 8 random hex digits.
enum JobID {
    static func make() -> String {
        let ms = UInt64(Date().timeIntervalSince1970 * 1000)
        let time = String(ms, radix: 16)
        return "job_" + String(repeating: "0", count: max(0, 12 - time.count)) + time
            + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
    }
}
