import Foundation
import GRDB
import Synchronization

/// SQLite persistence for models, datasets and jobs (a real file under the data dir, WAL mode), with a
/// write-through cache so polling a job never touches the database.
public final class JobStore: Sendable {
    private let db: DatabasePool
    private let cache = Mutex<[String: Job]>([:])
    /// Requests long-polling for a job to finish; fired on every write that finishes one.
    let watchers = JobWatchers()
    private static let cacheLimit = 20_000

    public init(path: String) throws {
        var config = GRDB.Configuration()
        config.busyMode = .timeout(10)
        db = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(db)
    }

    /// Internal so tests can build a database as an earlier version left it.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "models") { t in
                t.primaryKey("id", .text)
                t.column("format", .text).notNull()
                t.column("bytes", .integer).notNull()
                t.column("tensor_count", .integer).notNull()
                t.column("parameter_count", .integer).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("last_used_at", .datetime).notNull()
            }
            try db.create(table: "jobs") { t in
                t.primaryKey("id", .text)
                t.column("model_id", .text).notNull().indexed()
                t.column("status", .text).notNull().indexed()
                t.column("progress", .double).notNull()
                t.column("config", .text).notNull()
                t.column("preset", .text)
                t.column("created_at", .datetime).notNull()
                t.column("started_at", .datetime)
                t.column("finished_at", .datetime)
                t.column("error", .text)
                t.column("artifact_bytes", .integer)
                t.column("artifact_name", .text)
                t.column("attempts", .integer).notNull()
                t.column("expired", .boolean).notNull()
                t.column("revision", .integer).notNull()
            }
        }
        m.registerMigration("v2: minimum_deployment_target") { db in
            try db.alter(table: "jobs") { t in t.add(column: "minimum_deployment_target", .text) }
        }
        m.registerMigration("v3: artifact_encoding") { db in
            try db.alter(table: "jobs") { t in t.add(column: "artifact_encoding", .text) }
            // Every artifact stored so far is several concatenated gzip members.
            try db.execute(sql: "UPDATE jobs SET artifact_encoding = ? WHERE status = ?",
                           arguments: [ArtifactEncoding.gzipMembers.rawValue, JobStatus.succeeded.rawValue])
        }
        m.registerMigration("v4: tenants") { db in
            // Everything stored before tenants belongs to the one tenant there was.
            try db.alter(table: "jobs") { t in
                t.add(column: "tenant", .text).notNull().defaults(to: TokenRegistry.defaultTenant)
            }
            try db.create(index: "jobs_tenant_status", on: "jobs", columns: ["tenant", "status"])
            // A model's bytes are stored once; each tenant that uploaded them sees them as its own.
            try db.create(table: "model_owners") { t in
                t.column("model_id", .text).notNull().references("models", onDelete: .cascade)
                t.column("tenant", .text).notNull()
                t.primaryKey(["model_id", "tenant"])
            }
            try db.execute(sql: "INSERT INTO model_owners (model_id, tenant) SELECT id, ? FROM models",
                           arguments: [TokenRegistry.defaultTenant])
        }
        m.registerMigration("v5: onnx_format") { db in
            try db.alter(table: "jobs") { t in t.add(column: "onnx_format", .text) }
        }
        m.registerMigration("v6: datasets") { db in
            // A dataset's bytes are stored once; each tenant that uploaded them owns them with
            // its own dates, and the file goes when the last owner does.
            try db.create(table: "datasets") { t in
                t.primaryKey("id", .text)
                t.column("format", .text).notNull()
                t.column("bytes", .integer).notNull()
                t.column("sample_count", .integer).notNull()
                t.column("arrays", .text).notNull()
            }
            try db.create(table: "dataset_owners") { t in
                // Upload order, for the list's cursor.
                t.autoIncrementedPrimaryKey("seq")
                t.column("dataset_id", .text).notNull().references("datasets", onDelete: .cascade)
                t.column("tenant", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("last_used_at", .datetime).notNull().indexed()
                t.uniqueKey(["dataset_id", "tenant"])
            }
            try db.create(index: "dataset_owners_tenant", on: "dataset_owners", columns: ["tenant", "seq"])
        }
        m.registerMigration("v7: evaluation") { db in
            try db.alter(table: "jobs") { t in t.add(column: "evaluation_dataset_id", .text) }
        }
        m.registerMigration("v8: activation quantization") { db in
            try db.alter(table: "jobs") { t in
                t.add(column: "activation_config", .text)
                t.add(column: "calibration", .text)
            }
        }
        return m
    }

    // MARK: Models

    /// Inserts the model, or refreshes `last_used_at` if the same bytes were stored before, and
    /// makes `tenant` one of its owners.
    @discardableResult
    public func upsertModel(_ model: StoredModel, tenant: String) throws -> StoredModel {
        try db.write { db in
            var stored = model
            if var existing = try StoredModel.fetchOne(db, key: model.id) {
                existing.lastUsedAt = model.lastUsedAt
                try existing.update(db)
                stored = existing
            } else {
                try model.insert(db)
            }
            try db.execute(sql: "INSERT OR IGNORE INTO model_owners (model_id, tenant) VALUES (?, ?)", arguments: [model.id, tenant])
            return stored
        }
    }

    /// The model if `tenant` uploaded it; nil otherwise, as if it did not exist.
    public func model(_ id: String, ownedBy tenant: String) throws -> StoredModel? {
        try db.read { db in
            try StoredModel.fetchOne(db, sql: """
                SELECT models.* FROM models JOIN model_owners ON model_owners.model_id = models.id
                WHERE models.id = ? AND model_owners.tenant = ?
                """, arguments: [id, tenant])
        }
    }

    /// Jobs of `tenant` waiting for a worker.
    public func queuedJobCount(tenant: String) throws -> Int {
        try db.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE tenant = ? AND status = ?",
                             arguments: [tenant, JobStatus.queued.rawValue]) ?? 0
        }
    }

    /// What `tenant` keeps on disk: its models and datasets (each counted in full, though
    /// shared bytes are stored once) and its unexpired artifacts.
    public func storedBytes(tenant: String) throws -> Int64 {
        try db.read { db in
            let models = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(models.bytes), 0) FROM models JOIN model_owners ON model_owners.model_id = models.id
                WHERE model_owners.tenant = ?
                """, arguments: [tenant]) ?? 0
            let datasets = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(datasets.bytes), 0) FROM datasets JOIN dataset_owners ON dataset_owners.dataset_id = datasets.id
                WHERE dataset_owners.tenant = ?
                """, arguments: [tenant]) ?? 0
            let artifacts = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(artifact_bytes), 0) FROM jobs WHERE tenant = ? AND expired = 0
                """, arguments: [tenant]) ?? 0
            return models + datasets + artifacts
        }
    }

    /// Marks the model as used now; false if it no longer exists.
    public func touchModel(_ id: String, at date: Date = Date()) throws -> Bool {
        try db.write { db in
            try db.execute(sql: "UPDATE models SET last_used_at = ? WHERE id = ?", arguments: [date, id])
            return db.changesCount > 0
        }
    }

    public func model(_ id: String) throws -> StoredModel? {
        try db.read { try StoredModel.fetchOne($0, key: id) }
    }

    // MARK: Datasets

    private static let ownedDatasetSelect = """
        SELECT datasets.*, dataset_owners.seq, dataset_owners.created_at, dataset_owners.last_used_at
        FROM datasets JOIN dataset_owners ON dataset_owners.dataset_id = datasets.id
        """

    /// Stores the dataset's row unless the same bytes are stored already, and makes `tenant`
    /// an owner of it, or refreshes its `last_used_at` if it was one.
    @discardableResult
    public func upsertDataset(_ dataset: StoredDataset, tenant: String) throws -> StoredDataset {
        try db.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO datasets (id, format, bytes, sample_count, arrays) VALUES (?, ?, ?, ?, ?)
                """, arguments: [dataset.id, dataset.format, dataset.bytes, dataset.sampleCount,
                                 try StoredDataset.encodeArrays(dataset.signature)])
            try db.execute(sql: """
                INSERT INTO dataset_owners (dataset_id, tenant, created_at, last_used_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (dataset_id, tenant) DO UPDATE SET last_used_at = excluded.last_used_at
                """, arguments: [dataset.id, tenant, dataset.createdAt, dataset.lastUsedAt])
            return try StoredDataset.fetchOne(db, sql: Self.ownedDatasetSelect + " WHERE datasets.id = ? AND dataset_owners.tenant = ?",
                                              arguments: [dataset.id, tenant])!
        }
    }

    /// The dataset if `tenant` owns it; nil otherwise, as if it did not exist.
    public func dataset(_ id: String, ownedBy tenant: String) throws -> StoredDataset? {
        try db.read { db in
            try StoredDataset.fetchOne(db, sql: Self.ownedDatasetSelect + " WHERE datasets.id = ? AND dataset_owners.tenant = ?",
                                       arguments: [id, tenant])
        }
    }

    /// `tenant`'s datasets, newest upload first; `before` is the last page's last `sequence`.
    func datasets(ownedBy tenant: String, before: Int64?, limit: Int) throws -> [StoredDataset] {
        try db.read { db in
            try StoredDataset.fetchAll(db, sql: Self.ownedDatasetSelect + """
                 WHERE dataset_owners.tenant = ? AND dataset_owners.seq < ? ORDER BY dataset_owners.seq DESC LIMIT ?
                """, arguments: [tenant, before ?? Int64.max, limit])
        }
    }

    /// Marks `tenant`'s dataset as used now (its retention counts from here); false if the
    /// tenant does not own it.
    public func touchDataset(_ id: String, tenant: String, at date: Date = Date()) throws -> Bool {
        try db.write { db in
            try db.execute(sql: "UPDATE dataset_owners SET last_used_at = ? WHERE dataset_id = ? AND tenant = ?",
                           arguments: [date, id, tenant])
            return db.changesCount > 0
        }
    }

    /// Ends `tenant`'s ownership; `nil` if it owned no such dataset, otherwise whether no owner
    /// remains (the row is then gone, and the caller removes the file).
    func removeDatasetOwner(_ id: String, tenant: String) throws -> Bool? {
        try db.write { db in
            try db.execute(sql: "DELETE FROM dataset_owners WHERE dataset_id = ? AND tenant = ?", arguments: [id, tenant])
            guard db.changesCount > 0 else { return nil }
            return try Self.deleteOrphanedDatasets(db).contains(id)
        }
    }

    /// Ends every ownership unused since `cutoff`; returns the datasets no owner remains for
    /// (their rows are gone, and the caller removes the files).
    func expireDatasets(unusedSince cutoff: Date) throws -> [String] {
        try db.write { db in
            try db.execute(sql: "DELETE FROM dataset_owners WHERE last_used_at < ?", arguments: [cutoff])
            return try Self.deleteOrphanedDatasets(db)
        }
    }

    private static func deleteOrphanedDatasets(_ db: Database) throws -> [String] {
        let orphans = try String.fetchAll(db, sql: """
            SELECT id FROM datasets WHERE id NOT IN (SELECT dataset_id FROM dataset_owners)
            """)
        for id in orphans { try db.execute(sql: "DELETE FROM datasets WHERE id = ?", arguments: [id]) }
        return orphans
    }

    // MARK: Jobs

    public func insert(_ job: Job) throws {
        try db.write { try job.insert($0) }
        remember(job)
    }

    public func job(_ id: String) throws -> Job? {
        if let hit = cache.withLock({ $0[id] }) { return hit }
        guard let job = try db.read({ try Job.fetchOne($0, key: id) }) else { return nil }
        remember(job)
        return job
    }

    /// Applies `change` atomically; returns the job after it, or nil if there is no such job.
    @discardableResult
    public func update(_ id: String, _ change: @Sendable (inout Job) throws -> Void) throws -> Job? {
        let job = try db.write { db -> Job? in
            guard var job = try Job.fetchOne(db, key: id) else { return nil }
            try change(&job)
            job.revision += 1
            try job.update(db)
            return job
        }
        if let job {
            remember(job)
            if job.status.isFinished { watchers.finished(id) }
        }
        return job
    }

    /// `tenant`'s jobs, newest first; `after` is the id of the last job of the previous page.
    public func list(tenant: String, status: JobStatus?, after: String?, limit: Int) throws -> [Job] {
        try db.read { db in
            var request = Job.filter(Column("tenant") == tenant).order(Column("id").desc)
            if let status { request = request.filter(Column("status") == status.rawValue) }
            if let after { request = request.filter(Column("id") < after) }
            return try request.limit(limit).fetchAll(db)
        }
    }

    public func jobs(withStatus statuses: [JobStatus]) throws -> [Job] {
        try db.read { db in
            try Job.filter(statuses.map(\.rawValue).contains(Column("status"))).order(Column("id")).fetchAll(db)
        }
    }

    public func countsByStatus() throws -> [JobStatus: Int] {
        try db.read { db in
            var counts: [JobStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM jobs GROUP BY status") {
                if let s = JobStatus(rawValue: row[0]) { counts[s] = row[1] }
            }
            return counts
        }
    }

    /// Finished, unexpired jobs older than `cutoff`.
    public func finishedJobs(before cutoff: Date) throws -> [Job] {
        try db.read { db in
            try Job.filter(Column("expired") == false && Column("finished_at") != nil && Column("finished_at") < cutoff).fetchAll(db)
        }
    }

    /// Models not used since `cutoff` and not needed by any queued or running job.
    public func unusedModels(before cutoff: Date) throws -> [StoredModel] {
        try db.read { db in
            try StoredModel.fetchAll(db, sql: """
                SELECT * FROM models WHERE last_used_at < ? AND id NOT IN
                (SELECT model_id FROM jobs WHERE status IN ('queued', 'running'))
                """, arguments: [cutoff])
        }
    }

    public func deleteModel(_ id: String) throws {
        try db.write { db in
            try db.execute(sql: "DELETE FROM model_owners WHERE model_id = ?", arguments: [id])
            _ = try StoredModel.deleteOne(db, key: id)
        }
    }

    /// Caches `job` unless a newer revision is cached already: a reader that fetched before a
    /// concurrent update must not put the older row back.
    private func remember(_ job: Job) {
        cache.withLock { cache in
            if let cached = cache[job.id], cached.revision > job.revision { return }
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[job.id] = job
        }
    }
}
