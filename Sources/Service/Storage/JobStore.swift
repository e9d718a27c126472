import Foundation

/// Where models, datasets, jobs and idempotency keys are recorded: the embedded SQLite file
/// (`SQLiteJobStore`, one node) or a PostgreSQL database shared by several nodes
/// (`PostgresJobStore`). Both keep the same rows under the same rules; the tests run one suite
/// against both.
protocol JobStore: Sendable {
    /// Requests long-polling for a job to finish; fired when one does (on any node, for a
    /// shared store).
    var watchers: JobWatchers { get }

    // MARK: Models
    /// Inserts the model, or refreshes `last_used_at` if the same bytes were stored before, and
    /// makes `tenant` one of its owners.
    func upsertModel(_ model: StoredModel, tenant: String) throws -> StoredModel
    /// The model if `tenant` uploaded it; nil otherwise, as if it did not exist.
    func model(_ id: String, ownedBy tenant: String) throws -> StoredModel?
    func model(_ id: String) throws -> StoredModel?
    /// Marks the model as used at `date`; false if it no longer exists.
    func touchModel(_ id: String, at date: Date) throws -> Bool
    /// Models not used since `cutoff` and not needed by any queued or running job.
    func unusedModels(before cutoff: Date) throws -> [StoredModel]
    /// Deletes the model if it is still unused since `cutoff` and no queued or running job needs
    /// it; false when a job or an upload claimed it since it was listed (its file must stay).
    func deleteModel(_ id: String, unusedSince cutoff: Date) throws -> Bool
    /// What `tenant` keeps on disk: its models and datasets (each counted in full, though
    /// shared bytes are stored once) and its unexpired artifacts.
    func storedBytes(tenant: String) throws -> Int64

    // MARK: Datasets
    /// Stores the dataset's row unless the same bytes are stored already, and makes `tenant`
    /// an owner of it, or refreshes its `last_used_at` if it was one.
    func upsertDataset(_ dataset: StoredDataset, tenant: String) throws -> StoredDataset
    /// The dataset if `tenant` owns it; nil otherwise, as if it did not exist.
    func dataset(_ id: String, ownedBy tenant: String) throws -> StoredDataset?
    /// `tenant`'s datasets, newest upload first; `before` is the last page's last `sequence`.
    func datasets(ownedBy tenant: String, before: Int64?, limit: Int) throws -> [StoredDataset]
    /// Marks `tenant`'s dataset as used at `date`; false if the tenant does not own it.
    func touchDataset(_ id: String, tenant: String, at date: Date) throws -> Bool
    /// Ends `tenant`'s ownership; `nil` if it owned no such dataset, otherwise whether no owner
    /// remains (the row is then gone, and the caller removes the file).
    func removeDatasetOwner(_ id: String, tenant: String) throws -> Bool?
    /// Ends every ownership unused since `cutoff`; returns the datasets no owner remains for.
    func expireDatasets(unusedSince cutoff: Date) throws -> [String]

    // MARK: Jobs
    /// Inserts the job, and with `idempotency` records its key in the same transaction. When
    /// the key was recorded before, nothing is inserted and the earlier record is returned.
    func insert(_ job: Job, idempotency: IdempotencyKey?) throws -> IdempotencyRecord?
    func job(_ id: String) throws -> Job?
    /// Applies `change` atomically; returns the job after it, or nil if there is no such job.
    func update(_ id: String, _ change: @Sendable (inout Job) throws -> Void) throws -> Job?
    /// `tenant`'s jobs, newest first; `after` is the id of the last job of the previous page.
    func list(tenant: String, status: JobStatus?, after: String?, limit: Int) throws -> [Job]
    func jobs(withStatus statuses: [JobStatus]) throws -> [Job]
    /// Jobs waiting for a worker: `tenant`'s, or everyone's when nil.
    func queuedJobCount(tenant: String?) throws -> Int
    func countsByStatus() throws -> [JobStatus: Int]
    /// Finished, unexpired jobs older than `cutoff`.
    func finishedJobs(before cutoff: Date) throws -> [Job]

    // MARK: Idempotency keys
    /// The record of `key` (same tenant, operation and key), whatever its fingerprint.
    func idempotencyRecord(_ key: IdempotencyKey) throws -> IdempotencyRecord?
    /// Records `key` for `resourceID` unless it was recorded before; then returns that record.
    func recordIdempotency(_ key: IdempotencyKey, resourceID: String) throws -> IdempotencyRecord?
    /// Forgets keys recorded before `cutoff`.
    func expireIdempotencyKeys(before cutoff: Date) throws
    /// Forgets `key`: its request was refused after all (the queue was full), and a retry must
    /// be able to queue it.
    func forgetIdempotencyKey(_ key: IdempotencyKey) throws
}

extension JobStore {
    func insert(_ job: Job) throws { _ = try insert(job, idempotency: nil) }
    func touchModel(_ id: String) throws -> Bool { try touchModel(id, at: Date()) }
    func touchDataset(_ id: String, tenant: String) throws -> Bool { try touchDataset(id, tenant: tenant, at: Date()) }
}
