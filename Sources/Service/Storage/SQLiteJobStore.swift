import Foundation
import GRDB
import Synchronization

/// The embedded store of one node: a real SQLite file under the data dir (WAL mode), with a
/// write-through cache so polling a job never touches the database.
final class SQLiteJobStore: JobStore, Sendable {
    private let db: DatabasePool
    private let cache = Mutex<[String: Job]>([:])
    /// Requests long-polling for a job to finish; fired on every write that finishes one.
    let watchers = JobWatchers()
    private static let cacheLimit = 20_000

    init(path: String) throws {
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
        m.registerMigration("v9: leases and idempotency keys") { db in
            try db.alter(table: "jobs") { t in
                t.add(column: "node", .text)
                t.add(column: "lease_expires_at", .datetime)
                t.add(column: "cancel_requested", .boolean).notNull().defaults(to: false)
            }
            try db.create(table: "idempotency_keys") { t in
                t.column("tenant", .text).notNull()
                t.column("operation", .text).notNull()
                t.column("key", .text).notNull()
                t.column("fingerprint", .text).notNull()
                t.column("resource_id", .text).notNull()
                t.column("created_at", .datetime).notNull().indexed()
                t.primaryKey(["tenant", "operation", "key"])
            }
        }
        return m
    }

    // MARK: Models

    @discardableResult
    func upsertModel(_ model: StoredModel, tenant: String) throws -> StoredModel {
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

    func model(_ id: String, ownedBy tenant: String) throws -> StoredModel? {
        try db.read { db in
            try StoredModel.fetchOne(db, sql: """
                SELECT models.* FROM models JOIN model_owners ON model_owners.model_id = models.id
                WHERE models.id = ? AND model_owners.tenant = ?
                """, arguments: [id, tenant])
        }
    }

    func queuedJobCount(tenant: String?) throws -> Int {
        try db.read { db in
            guard let tenant else {
                return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE status = ?", arguments: [JobStatus.queued.rawValue]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE tenant = ? AND status = ?",
                                    arguments: [tenant, JobStatus.queued.rawValue]) ?? 0
        }
    }

    func storedBytes(tenant: String) throws -> Int64 {
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

    func touchModel(_ id: String, at date: Date) throws -> Bool {
        try db.write { db in
            try db.execute(sql: "UPDATE models SET last_used_at = ? WHERE id = ?", arguments: [date, id])
            return db.changesCount > 0
        }
    }

    func model(_ id: String) throws -> StoredModel? {
        try db.read { try StoredModel.fetchOne($0, key: id) }
    }

    // MARK: Datasets

    private static let ownedDatasetSelect = """
        SELECT datasets.*, dataset_owners.seq, dataset_owners.created_at, dataset_owners.last_used_at
        FROM datasets JOIN dataset_owners ON dataset_owners.dataset_id = datasets.id
        """

    @discardableResult
    func upsertDataset(_ dataset: StoredDataset, tenant: String) throws -> StoredDataset {
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

    func dataset(_ id: String, ownedBy tenant: String) throws -> StoredDataset? {
        try db.read { db in
            try StoredDataset.fetchOne(db, sql: Self.ownedDatasetSelect + " WHERE datasets.id = ? AND dataset_owners.tenant = ?",
                                       arguments: [id, tenant])
        }
    }

    func datasets(ownedBy tenant: String, before: Int64?, limit: Int) throws -> [StoredDataset] {
        try db.read { db in
            try StoredDataset.fetchAll(db, sql: Self.ownedDatasetSelect + """
                 WHERE dataset_owners.tenant = ? AND dataset_owners.seq < ? ORDER BY dataset_owners.seq DESC LIMIT ?
                """, arguments: [tenant, before ?? Int64.max, limit])
        }
    }

    func touchDataset(_ id: String, tenant: String, at date: Date) throws -> Bool {
        try db.write { db in
            try db.execute(sql: "UPDATE dataset_owners SET last_used_at = ? WHERE dataset_id = ? AND tenant = ?",
                           arguments: [date, id, tenant])
            return db.changesCount > 0
        }
    }

    func removeDatasetOwner(_ id: String, tenant: String) throws -> Bool? {
        try db.write { db in
            try db.execute(sql: "DELETE FROM dataset_owners WHERE dataset_id = ? AND tenant = ?", arguments: [id, tenant])
            guard db.changesCount > 0 else { return nil }
            return try Self.deleteOrphanedDatasets(db).contains(id)
        }
    }

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

    func insert(_ job: Job, idempotency: IdempotencyKey?) throws -> IdempotencyRecord? {
        let earlier = try db.write { db -> IdempotencyRecord? in
            if let idempotency {
                if let earlier = try Self.idempotencyRecord(idempotency, db) { return earlier }
                try Self.insertKey(idempotency, resourceID: job.id, db)
            }
            try job.insert(db)
            return nil
        }
        if earlier == nil { remember(job) }
        return earlier
    }

    func job(_ id: String) throws -> Job? {
        if let hit = cache.withLock({ $0[id] }) { return hit }
        guard let job = try db.read({ try Job.fetchOne($0, key: id) }) else { return nil }
        remember(job)
        return job
    }

    @discardableResult
    func update(_ id: String, _ change: @Sendable (inout Job) throws -> Void) throws -> Job? {
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

    func list(tenant: String, status: JobStatus?, after: String?, limit: Int) throws -> [Job] {
        try db.read { db in
            var request = Job.filter(Column("tenant") == tenant).order(Column("id").desc)
            if let status { request = request.filter(Column("status") == status.rawValue) }
            if let after { request = request.filter(Column("id") < after) }
            return try request.limit(limit).fetchAll(db)
        }
    }

    func jobs(withStatus statuses: [JobStatus]) throws -> [Job] {
        try db.read { db in
            try Job.filter(statuses.map(\.rawValue).contains(Column("status"))).order(Column("id")).fetchAll(db)
        }
    }

    func countsByStatus() throws -> [JobStatus: Int] {
        try db.read { db in
            var counts: [JobStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM jobs GROUP BY status") {
                if let s = JobStatus(rawValue: row[0]) { counts[s] = row[1] }
            }
            return counts
        }
    }

    func finishedJobs(before cutoff: Date) throws -> [Job] {
        try db.read { db in
            try Job.filter(Column("expired") == false && Column("finished_at") != nil && Column("finished_at") < cutoff).fetchAll(db)
        }
    }

    func unusedModels(before cutoff: Date) throws -> [StoredModel] {
        try db.read { db in
            try StoredModel.fetchAll(db, sql: """
                SELECT * FROM models WHERE last_used_at < ? AND id NOT IN
                (SELECT model_id FROM jobs WHERE status IN ('queued', 'running'))
                """, arguments: [cutoff])
        }
    }

    func deleteModel(_ id: String, unusedSince cutoff: Date) throws -> Bool {
        try db.write { db in
            try db.execute(sql: """
                DELETE FROM models WHERE id = ? AND last_used_at < ? AND id NOT IN
                (SELECT model_id FROM jobs WHERE status IN ('queued', 'running'))
                """, arguments: [id, cutoff])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "DELETE FROM model_owners WHERE model_id = ?", arguments: [id])
            return true
        }
    }

    // MARK: Idempotency keys

    func idempotencyRecord(_ key: IdempotencyKey) throws -> IdempotencyRecord? {
        try db.read { try Self.idempotencyRecord(key, $0) }
    }

    func recordIdempotency(_ key: IdempotencyKey, resourceID: String) throws -> IdempotencyRecord? {
        try db.write { db in
            if let earlier = try Self.idempotencyRecord(key, db) { return earlier }
            try Self.insertKey(key, resourceID: resourceID, db)
            return nil
        }
    }

    func expireIdempotencyKeys(before cutoff: Date) throws {
        try db.write { try $0.execute(sql: "DELETE FROM idempotency_keys WHERE created_at < ?", arguments: [cutoff]) }
    }

    func forgetIdempotencyKey(_ key: IdempotencyKey) throws {
        try db.write { db in
            try db.execute(sql: "DELETE FROM idempotency_keys WHERE tenant = ? AND operation = ? AND key = ?",
                           arguments: [key.tenant, key.operation.rawValue, key.key])
        }
    }

    private static func idempotencyRecord(_ key: IdempotencyKey, _ db: Database) throws -> IdempotencyRecord? {
        try Row.fetchOne(db, sql: """
            SELECT fingerprint, resource_id FROM idempotency_keys WHERE tenant = ? AND operation = ? AND key = ?
            """, arguments: [key.tenant, key.operation.rawValue, key.key]).map { IdempotencyRecord(fingerprint: $0[0], resourceID: $0[1]) }
    }

    private static func insertKey(_ key: IdempotencyKey, resourceID: String, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO idempotency_keys (tenant, operation, key, fingerprint, resource_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [key.tenant, key.operation.rawValue, key.key, key.fingerprint, resourceID, Date()])
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
