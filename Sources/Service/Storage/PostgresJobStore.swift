import Foundation
import Postgres
import Synchronization

/// The store several nodes share: PostgreSQL through libpq. Workers claim queued jobs with
/// `FOR UPDATE SKIP LOCKED` and hold them by a lease their node's heartbeat renews; any node
/// requeues a job whose lease ran out. NOTIFY tells every node when a job is queued, finishes
/// or is cancelled, so long-polls and idle workers wake without polling.
final class PostgresJobStore: JobStore, Sendable {
    let pool: PostgresPool
    let watchers = JobWatchers()
    private let listener = Mutex<PostgresListener?>(nil)

    enum Channel {
        static let queued = "quantd_job_queued"
        static let finished = "quantd_job_finished"
        static let cancel = "quantd_job_cancel"
    }

    /// Connects a pool to `url` and applies the migrations the database lacks.
    init(url: String, poolSize: Int) throws {
        pool = PostgresPool(url: url, size: poolSize)
        try PostgresSchema.migrate(pool)
    }

    // MARK: Rows

    private static let jobColumns: [(name: String, isDate: Bool)] = [
        ("id", false), ("tenant", false), ("model_id", false), ("status", false), ("progress", false), ("config", false),
        ("preset", false), ("minimum_deployment_target", false), ("onnx_format", false), ("evaluation_dataset_id", false),
        ("activation_config", false), ("calibration", false), ("created_at", true), ("started_at", true),
        ("finished_at", true), ("error", false), ("artifact_bytes", false), ("artifact_name", false),
        ("artifact_encoding", false), ("attempts", false), ("expired", false), ("revision", false), ("node", false),
        ("lease_expires_at", true), ("cancel_requested", false),
    ]

    /// The job columns as a select list, timestamps as epoch seconds.
    private static let jobSelectList = selectList(jobColumns, table: "jobs")
    private static let jobSelect = "SELECT \(jobSelectList) FROM jobs"

    private static func selectList(_ columns: [(name: String, isDate: Bool)], table: String) -> String {
        columns.map { $0.isDate ? "extract(epoch from \(table).\($0.name))::double precision AS \($0.name)" : "\(table).\($0.name)" }
            .joined(separator: ", ")
    }

    /// `$n`, or `to_timestamp($n)` for a timestamp column.
    private static func placeholder(_ n: Int, isDate: Bool) -> String {
        isDate ? "to_timestamp($\(n)::double precision)" : "$\(n)"
    }

    private static func values(_ job: Job) -> [String?] {
        [job.id, job.tenant, job.modelId, job.status.rawValue, String(job.progress), job.config, job.preset,
         job.minimumDeploymentTarget, job.onnxFormat, job.evaluationDatasetId, job.activationConfig, job.calibration,
         PostgresParameter.date(job.createdAt), PostgresParameter.date(job.startedAt), PostgresParameter.date(job.finishedAt),
         job.error, job.artifactBytes.map { String($0) }, job.artifactName, job.artifactEncoding?.rawValue,
         String(job.attempts), PostgresParameter.bool(job.expired), String(job.revision), job.node,
         PostgresParameter.date(job.leaseExpiresAt), PostgresParameter.bool(job.cancelRequested)]
    }

    private static func job(_ row: PostgresRow) throws -> Job {
        guard let status = JobStatus(rawValue: try row.string("status")) else { throw PostgresRow.Missing(column: "status") }
        var job = Job(id: try row.string("id"), tenant: try row.string("tenant"), modelId: try row.string("model_id"),
                      status: status, progress: try row.double("progress"), config: try row.string("config"),
                      preset: row.optionalString("preset"), minimumDeploymentTarget: row.optionalString("minimum_deployment_target"),
                      onnxFormat: row.optionalString("onnx_format"), evaluationDatasetId: row.optionalString("evaluation_dataset_id"),
                      activationConfig: row.optionalString("activation_config"), calibration: row.optionalString("calibration"),
                      createdAt: try row.date("created_at"), startedAt: try row.optionalDate("started_at"),
                      finishedAt: try row.optionalDate("finished_at"), error: row.optionalString("error"),
                      artifactBytes: try row.optionalInt64("artifact_bytes"), artifactName: row.optionalString("artifact_name"),
                      artifactEncoding: row.optionalString("artifact_encoding").flatMap(ArtifactEncoding.init(rawValue:)),
                      attempts: try row.int("attempts"), expired: try row.bool("expired"), revision: try row.int("revision"))
        job.node = row.optionalString("node")
        job.leaseExpiresAt = try row.optionalDate("lease_expires_at")
        job.cancelRequested = try row.bool("cancel_requested")
        return job
    }

    private static func jobs(_ result: PostgresResult) throws -> [Job] { try result.namedRowValues.map(job) }

    private static let modelSelectList = selectList(
        [("id", false), ("format", false), ("bytes", false), ("tensor_count", false), ("parameter_count", false),
         ("created_at", true), ("last_used_at", true)], table: "models")

    private static func model(_ row: PostgresRow) throws -> StoredModel {
        StoredModel(id: try row.string("id"), format: try row.string("format"), bytes: try row.int64("bytes"),
                    tensorCount: try row.int("tensor_count"), parameterCount: try row.int64("parameter_count"),
                    createdAt: try row.date("created_at"), lastUsedAt: try row.date("last_used_at"))
    }

    private static let ownedDatasetSelect = """
        SELECT datasets.id, datasets.format, datasets.bytes, datasets.arrays, dataset_owners.seq,
               extract(epoch from dataset_owners.created_at)::double precision AS created_at,
               extract(epoch from dataset_owners.last_used_at)::double precision AS last_used_at
        FROM datasets JOIN dataset_owners ON dataset_owners.dataset_id = datasets.id
        """

    private static func dataset(_ row: PostgresRow) throws -> StoredDataset {
        var dataset = StoredDataset(id: try row.string("id"), format: try row.string("format"), bytes: try row.int64("bytes"),
                                    signature: try StoredDataset.decodeArrays(try row.string("arrays")),
                                    createdAt: try row.date("created_at"), lastUsedAt: try row.date("last_used_at"))
        dataset.sequence = try row.int64("seq")
        return dataset
    }

    // MARK: Models

    func upsertModel(_ model: StoredModel, tenant: String) throws -> StoredModel {
        try pool.transaction { conn in
            let row = try conn.execute("""
                INSERT INTO models (id, format, bytes, tensor_count, parameter_count, created_at, last_used_at)
                VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision), to_timestamp($7::double precision))
                ON CONFLICT (id) DO UPDATE SET last_used_at = EXCLUDED.last_used_at
                RETURNING \(Self.modelSelectList)
                """, [model.id, model.format, String(model.bytes), String(model.tensorCount), String(model.parameterCount),
                      PostgresParameter.date(model.createdAt), PostgresParameter.date(model.lastUsedAt)])
            try conn.execute("INSERT INTO model_owners (model_id, tenant) VALUES ($1, $2) ON CONFLICT DO NOTHING", [model.id, tenant])
            return try Self.model(row.namedRowValues[0])
        }
    }

    func model(_ id: String, ownedBy tenant: String) throws -> StoredModel? {
        try pool.withConnection { conn in
            try conn.execute("""
                SELECT \(Self.modelSelectList) FROM models JOIN model_owners ON model_owners.model_id = models.id
                WHERE models.id = $1 AND model_owners.tenant = $2
                """, [id, tenant]).namedRowValues.first.map(Self.model)
        }
    }

    func model(_ id: String) throws -> StoredModel? {
        try pool.withConnection { conn in
            try conn.execute("SELECT \(Self.modelSelectList) FROM models WHERE id = $1", [id]).namedRowValues.first.map(Self.model)
        }
    }

    func touchModel(_ id: String, at date: Date) throws -> Bool {
        try pool.withConnection { conn in
            try conn.execute("UPDATE models SET last_used_at = to_timestamp($2::double precision) WHERE id = $1",
                             [id, PostgresParameter.date(date)]).affectedRows > 0
        }
    }

    func unusedModels(before cutoff: Date) throws -> [StoredModel] {
        try pool.withConnection { conn in
            try conn.execute("""
                SELECT \(Self.modelSelectList) FROM models WHERE last_used_at < to_timestamp($1::double precision)
                AND id NOT IN (SELECT model_id FROM jobs WHERE status IN ('queued', 'running'))
                """, [PostgresParameter.date(cutoff)]).namedRowValues.map(Self.model)
        }
    }

    func deleteModel(_ id: String, unusedSince cutoff: Date) throws -> Bool {
        // One statement: a submission that touched the model, or queued a job for it, since it
        // was listed holds its row lock or is visible here, and the model stays.
        try pool.withConnection { conn in
            try conn.execute("""
                DELETE FROM models WHERE id = $1 AND last_used_at < to_timestamp($2::double precision)
                AND NOT EXISTS (SELECT 1 FROM jobs WHERE model_id = $1 AND status IN ('queued', 'running'))
                """, [id, PostgresParameter.date(cutoff)]).affectedRows > 0
        }
    }

    func storedBytes(tenant: String) throws -> Int64 {
        try pool.withConnection { conn in
            let result = try conn.execute("""
                SELECT
                  (SELECT COALESCE(SUM(models.bytes), 0) FROM models JOIN model_owners ON model_owners.model_id = models.id
                   WHERE model_owners.tenant = $1)
                + (SELECT COALESCE(SUM(datasets.bytes), 0) FROM datasets JOIN dataset_owners ON dataset_owners.dataset_id = datasets.id
                   WHERE dataset_owners.tenant = $1)
                + (SELECT COALESCE(SUM(artifact_bytes), 0) FROM jobs WHERE tenant = $1 AND NOT expired)
                """, [tenant])
            return result.scalar.flatMap { Int64($0) } ?? 0
        }
    }

    // MARK: Datasets

    func upsertDataset(_ dataset: StoredDataset, tenant: String) throws -> StoredDataset {
        try pool.transaction { conn in
            try conn.execute("""
                INSERT INTO datasets (id, format, bytes, sample_count, arrays) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                """, [dataset.id, dataset.format, String(dataset.bytes), String(dataset.sampleCount),
                      try StoredDataset.encodeArrays(dataset.signature)])
            try conn.execute("""
                INSERT INTO dataset_owners (dataset_id, tenant, created_at, last_used_at)
                VALUES ($1, $2, to_timestamp($3::double precision), to_timestamp($4::double precision))
                ON CONFLICT (dataset_id, tenant) DO UPDATE SET last_used_at = EXCLUDED.last_used_at
                """, [dataset.id, tenant, PostgresParameter.date(dataset.createdAt), PostgresParameter.date(dataset.lastUsedAt)])
            return try Self.dataset(try conn.execute(Self.ownedDatasetSelect + " WHERE datasets.id = $1 AND dataset_owners.tenant = $2",
                                                     [dataset.id, tenant]).namedRowValues[0])
        }
    }

    func dataset(_ id: String, ownedBy tenant: String) throws -> StoredDataset? {
        try pool.withConnection { conn in
            try conn.execute(Self.ownedDatasetSelect + " WHERE datasets.id = $1 AND dataset_owners.tenant = $2", [id, tenant])
                .namedRowValues.first.map(Self.dataset)
        }
    }

    func datasets(ownedBy tenant: String, before: Int64?, limit: Int) throws -> [StoredDataset] {
        try pool.withConnection { conn in
            try conn.execute(Self.ownedDatasetSelect + """
                 WHERE dataset_owners.tenant = $1 AND dataset_owners.seq < $2::bigint ORDER BY dataset_owners.seq DESC LIMIT $3::integer
                """, [tenant, String(before ?? Int64.max), String(limit)]).namedRowValues.map(Self.dataset)
        }
    }

    func touchDataset(_ id: String, tenant: String, at date: Date) throws -> Bool {
        try pool.withConnection { conn in
            try conn.execute("""
                UPDATE dataset_owners SET last_used_at = to_timestamp($3::double precision) WHERE dataset_id = $1 AND tenant = $2
                """, [id, tenant, PostgresParameter.date(date)]).affectedRows > 0
        }
    }

    func removeDatasetOwner(_ id: String, tenant: String) throws -> Bool? {
        try pool.transaction { conn in
            guard try conn.execute("DELETE FROM dataset_owners WHERE dataset_id = $1 AND tenant = $2", [id, tenant]).affectedRows > 0 else {
                return nil
            }
            return try conn.execute("""
                DELETE FROM datasets WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM dataset_owners WHERE dataset_id = $1)
                """, [id]).affectedRows > 0
        }
    }

    func expireDatasets(unusedSince cutoff: Date) throws -> [String] {
        try pool.transaction { conn in
            try conn.execute("DELETE FROM dataset_owners WHERE last_used_at < to_timestamp($1::double precision)",
                             [PostgresParameter.date(cutoff)])
            return try conn.execute("""
                DELETE FROM datasets WHERE NOT EXISTS (SELECT 1 FROM dataset_owners WHERE dataset_owners.dataset_id = datasets.id)
                RETURNING id
                """).rows.compactMap { $0[0] }
        }
    }

    // MARK: Jobs

    func insert(_ job: Job, idempotency: IdempotencyKey?) throws -> IdempotencyRecord? {
        try pool.transaction { conn in
            if let idempotency {
                // A concurrent insert of the same key (another node, a retry) waits here for the
                // first to commit, then finds its record.
                if try Self.insertKey(idempotency, resourceID: job.id, conn) == false {
                    return try Self.idempotencyRecord(idempotency, conn)
                }
            }
            let placeholders = Self.jobColumns.enumerated().map { Self.placeholder($0.offset + 1, isDate: $0.element.isDate) }
            try conn.execute("INSERT INTO jobs (\(Self.jobColumns.map(\.name).joined(separator: ", "))) VALUES (\(placeholders.joined(separator: ", ")))",
                             Self.values(job))
            try conn.execute("SELECT pg_notify($1, $2)", [Channel.queued, job.id])
            return nil
        }
    }

    func job(_ id: String) throws -> Job? {
        try pool.withConnection { conn in
            try conn.execute(Self.jobSelect + " WHERE id = $1", [id]).namedRowValues.first.map(Self.job)
        }
    }

    private static let updateStatement: String = {
        let sets = jobColumns.enumerated().dropFirst().map { "\($0.element.name) = \(placeholder($0.offset + 1, isDate: $0.element.isDate))" }
        return "UPDATE jobs SET \(sets.joined(separator: ", ")) WHERE id = $1"
    }()

    func update(_ id: String, _ change: @Sendable (inout Job) throws -> Void) throws -> Job? {
        let changed = try pool.transaction { conn -> (before: Job, after: Job)? in
            guard let before = try conn.execute(Self.jobSelect + " WHERE id = $1 FOR UPDATE", [id]).namedRowValues.first.map(Self.job) else {
                return nil
            }
            var job = before
            try change(&job)
            job.revision += 1
            try conn.execute(Self.updateStatement, Self.values(job))
            if job.status.isFinished && !before.status.isFinished {
                try conn.execute("SELECT pg_notify($1, $2)", [Channel.finished, id])
            }
            if job.status == .queued && before.status != .queued {
                // Back in the queue (a node shutting down): any node's idle worker may take it.
                try conn.execute("SELECT pg_notify($1, $2)", [Channel.queued, id])
            }
            if job.cancelRequested && !before.cancelRequested {
                try conn.execute("SELECT pg_notify($1, $2)", [Channel.cancel, id])
            }
            return (before, job)
        }
        guard let changed else { return nil }
        if changed.after.status.isFinished { watchers.finished(id) }
        return changed.after
    }

    func list(tenant: String, status: JobStatus?, after: String?, limit: Int) throws -> [Job] {
        try pool.withConnection { conn in
            try Self.jobs(try conn.execute(Self.jobSelect + """
                 WHERE tenant = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR id < $3)
                 ORDER BY id DESC LIMIT $4::integer
                """, [tenant, status?.rawValue, after, String(limit)]))
        }
    }

    func jobs(withStatus statuses: [JobStatus]) throws -> [Job] {
        try pool.withConnection { conn in
            try Self.jobs(try conn.execute(Self.jobSelect + " WHERE status = ANY($1::text[]) ORDER BY id",
                                           [PostgresParameter.textArray(statuses.map(\.rawValue))]))
        }
    }

    func queuedJobCount(tenant: String?) throws -> Int {
        try pool.withConnection { conn in
            Int(try conn.execute("SELECT count(*) FROM jobs WHERE status = 'queued' AND ($1::text IS NULL OR tenant = $1)",
                                 [tenant]).scalar ?? "0") ?? 0
        }
    }

    func countsByStatus() throws -> [JobStatus: Int] {
        try pool.withConnection { conn in
            var counts: [JobStatus: Int] = [:]
            for row in try conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").rows {
                if let status = row[0].flatMap(JobStatus.init(rawValue:)) { counts[status] = row[1].flatMap { Int($0) } ?? 0 }
            }
            return counts
        }
    }

    func finishedJobs(before cutoff: Date) throws -> [Job] {
        try pool.withConnection { conn in
            try Self.jobs(try conn.execute(Self.jobSelect + """
                 WHERE NOT expired AND finished_at IS NOT NULL AND finished_at < to_timestamp($1::double precision)
                """, [PostgresParameter.date(cutoff)]))
        }
    }

    // MARK: Idempotency keys

    func idempotencyRecord(_ key: IdempotencyKey) throws -> IdempotencyRecord? {
        try pool.withConnection { try Self.idempotencyRecord(key, $0) }
    }

    func recordIdempotency(_ key: IdempotencyKey, resourceID: String) throws -> IdempotencyRecord? {
        try pool.withConnection { conn in
            try Self.insertKey(key, resourceID: resourceID, conn) ? nil : try Self.idempotencyRecord(key, conn)
        }
    }

    func expireIdempotencyKeys(before cutoff: Date) throws {
        try pool.withConnection { conn in
            try conn.execute("DELETE FROM idempotency_keys WHERE created_at < to_timestamp($1::double precision)",
                             [PostgresParameter.date(cutoff)])
        }
    }

    func forgetIdempotencyKey(_ key: IdempotencyKey) throws {
        try pool.withConnection { conn in
            try conn.execute("DELETE FROM idempotency_keys WHERE tenant = $1 AND operation = $2 AND key = $3",
                             [key.tenant, key.operation.rawValue, key.key])
        }
    }

    private static func idempotencyRecord(_ key: IdempotencyKey, _ conn: PostgresConnection) throws -> IdempotencyRecord? {
        try conn.execute("""
            SELECT fingerprint, resource_id FROM idempotency_keys WHERE tenant = $1 AND operation = $2 AND key = $3
            """, [key.tenant, key.operation.rawValue, key.key]).namedRowValues.first.map {
                IdempotencyRecord(fingerprint: try $0.string("fingerprint"), resourceID: try $0.string("resource_id"))
            }
    }

    /// True when this call recorded the key; false when it was recorded before.
    private static func insertKey(_ key: IdempotencyKey, resourceID: String, _ conn: PostgresConnection) throws -> Bool {
        try conn.execute("""
            INSERT INTO idempotency_keys (tenant, operation, key, fingerprint, resource_id, created_at)
            VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT DO NOTHING
            """, [key.tenant, key.operation.rawValue, key.key, key.fingerprint, resourceID]).affectedRows > 0
    }

    // MARK: Claiming and leases

    /// Takes the oldest queued job no other node is taking, for `node`, with a lease of
    /// `leaseSeconds`; nil when none is waiting.
    func claimNext(node: String, leaseSeconds: Double) throws -> Job? {
        try pool.withConnection { conn in
            try conn.execute("""
                UPDATE jobs SET status = 'running', node = $1, attempts = attempts + 1, started_at = now(), progress = 0,
                  lease_expires_at = now() + make_interval(secs => $2::double precision), revision = revision + 1
                WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING \(Self.jobSelectList)
                """, [node, String(leaseSeconds)]).namedRowValues.first.map(Self.job)
        }
    }

    /// A lease a node still holds: the attempt it holds it by, and whether a user asked to
    /// cancel the job.
    struct Lease: Sendable, Equatable {
        var attempt: Int
        var cancelRequested: Bool
    }

    /// Extends the leases of `ids`, which `node` is running; returns those it still holds. A
    /// job missing from the answer, or held by another attempt, was requeued meanwhile (this
    /// node stalled past its lease) and its run here must stop.
    func renewLeases(node: String, ids: [String], leaseSeconds: Double) throws -> [String: Lease] {
        guard !ids.isEmpty else { return [:] }
        return try pool.withConnection { conn in
            var held: [String: Lease] = [:]
            for row in try conn.execute("""
                UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $2::double precision)
                WHERE node = $1 AND status = 'running' AND id = ANY($3::text[]) RETURNING id, attempts, cancel_requested
                """, [node, String(leaseSeconds), PostgresParameter.textArray(ids)]).namedRowValues {
                held[try row.string("id")] = Lease(attempt: try row.int("attempts"), cancelRequested: try row.bool("cancel_requested"))
            }
            return held
        }
    }

    /// What became of jobs whose node stopped holding them.
    struct Requeued: Sendable, Equatable {
        var queued: [String] = []
        /// Out of attempts (`jobs.max_attempts`), or cancelled while their node was gone.
        var finished: [String] = []
    }

    /// Requeues running jobs whose lease expired (any node's), or, with `node`, that node's own
    /// running jobs whatever their lease (the node is starting again: they died with it).
    /// Jobs out of attempts fail; jobs a user cancelled end cancelled. Leases are not taken as
    /// expired until the database has been up for `leaseSeconds`: after a database restart every
    /// node gets a whole lease to renew before its jobs count as abandoned.
    func requeueAbandoned(node: String? = nil, policy: AttemptPolicy, leaseSeconds: Double = 0) throws -> Requeued {
        try pool.transaction { conn in
            // SKIP LOCKED: two nodes sweeping at once split the abandoned jobs between them.
            let abandoned = try Self.jobs(try conn.execute(Self.jobSelect + """
                 WHERE status = 'running' AND (($1::text IS NULL AND lease_expires_at < now()
                   AND pg_postmaster_start_time() < now() - make_interval(secs => $2::double precision)) OR node = $1)
                 ORDER BY id FOR UPDATE SKIP LOCKED
                """, [node, String(leaseSeconds)]))
            var outcome = Requeued()
            for var job in abandoned {
                policy.abandon(&job, at: Date())
                job.revision += 1
                try conn.execute(Self.updateStatement, Self.values(job))
                if job.status == .queued {
                    outcome.queued.append(job.id)
                } else {
                    outcome.finished.append(job.id)
                    try conn.execute("SELECT pg_notify($1, $2)", [Channel.finished, job.id])
                }
            }
            if !outcome.queued.isEmpty { try conn.execute("SELECT pg_notify($1, '')", [Channel.queued]) }
            return outcome
        }
    }

    /// Runs `body` if no other node holds the advisory lock `key`; false when one does. The lock
    /// is held by a connection of its own (a session lock belongs to its connection, and `body`
    /// needs the pool's), which also lets it go if this node dies mid-sweep.
    func ifHoldingLock(_ key: Int64, _ body: () throws -> Void) throws -> Bool {
        let conn = try PostgresConnection(url: pool.url, applicationName: "quantd-lock")
        guard try conn.execute("SELECT pg_try_advisory_lock($1::bigint)", [String(key)]).scalar == "t" else { return false }
        defer { _ = try? conn.execute("SELECT pg_advisory_unlock($1::bigint)", [String(key)]) }
        try body()
        return true
    }

    // MARK: Notifications

    /// The session lock a running node holds on its name, so that two processes given the same
    /// `cluster.node_id` cannot take each other's jobs and tmp/ folder.
    private static let nodeLock = "SELECT pg_try_advisory_lock(hashtext('quantd-node:' || $1)::bigint)"

    struct NodeNameTaken: Error, CustomStringConvertible {
        var node: String
        var description: String {
            "another running node already uses cluster.node_id '\(node)'; give every node its own (the default is the host name)"
        }
    }

    /// Throws `NodeNameTaken` when a live node holds `node`'s name (checked at start).
    func checkNodeNameIsFree(_ node: String) throws {
        let conn = try PostgresConnection(url: pool.url, applicationName: "quantd-start")
        guard try conn.execute(Self.nodeLock, [node]).scalar == "t" else { throw NodeNameTaken(node: node) }
    }

    /// Listens for other nodes' news: a finished job wakes its long-polls here, a queued job
    /// wakes an idle worker, a cancel stops the job if it runs here. The listening connection
    /// holds this node's name lock for as long as it lives.
    func startListening(node: String, queued: @escaping @Sendable () -> Void, cancel: @escaping @Sendable (String) -> Void) {
        let watchers = self.watchers
        let channels = [Channel.queued, Channel.finished, Channel.cancel]
        let listener = PostgresListener(url: pool.url, channels: channels, onConnect: { conn in
            guard try conn.execute(Self.nodeLock, [node]).scalar == "t" else { throw NodeNameTaken(node: node) }
        }, handler: { n in
            switch n.channel {
            case Channel.finished: watchers.finished(n.payload)
            case Channel.queued: queued()
            case Channel.cancel: cancel(n.payload)
            default: break
            }
        }, reconnected: { [weak self] in
            // Notifications sent while the listener was away are lost: look again.
            guard let self else { return }
            for id in watchers.watchedIDs where (try? self.job(id))?.status.isFinished == true { watchers.finished(id) }
            queued()
        })
        listener.start()
        self.listener.withLock { $0 = listener }
    }

    var isListening: Bool { listener.withLock { $0 }?.isListening.load(ordering: .relaxed) ?? false }

    func stopListening() {
        listener.withLock { l in defer { l = nil }; return l }?.stop()
    }
}
