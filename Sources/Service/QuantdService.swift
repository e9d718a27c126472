import Foundation
import HTTP
import Logging
import Synchronization

/// The running service: data dir, job store, worker pool, HTTP server and retention sweep,
/// started and stopped as one.
public final class QuantdService: Sendable {
    public let config: Configuration
    private let context: ServiceContext
    private let server: HTTPServer
    private let pool: any JobWorkers
    // Set once by start() and cancelled by shutdown(), both called from the owning thread.
    nonisolated(unsafe) private var retentionTimer: DispatchSourceTimer?

    public init(config: Configuration, logger: Logger) throws {
        self.config = config
        let node = config.resolvedNodeID
        // One node alone keeps its scratch files in tmp/local/, whatever its host is called
        // (a container's host name changes with each new container).
        let data = DataDirectory(root: config.dataDirectory, node: config.storeKind == .sqlite ? "local" : node)
        let store: any JobStore
        switch config.storeKind {
        case .sqlite:
            try data.prepare()
            store = try SQLiteJobStore(path: data.database)
        case .postgres(let url):
            let shared: PostgresJobStore
            do { shared = try PostgresJobStore(url: url, poolSize: config.databasePoolSize) } catch {
                throw StartupError("cannot open the job database at storage.database_url: \(error)")
            }
            // Before emptying tmp/<node>/: a live node of the same name owns what is in it.
            do { try shared.checkNodeNameIsFree(node) } catch { throw StartupError("\(error)") }
            try data.prepare()
            store = shared
        }
        let metrics = Metrics(node: node)
        let catalog = try DeviceCatalogFile.load(config.devicesPath)
        let packages = OpenedPackages()
        let tokens = try TokenRegistry(apiTokens: config.apiTokens, tokensPath: config.tokensPath)
        context = ServiceContext(config: config, data: data, store: store, metrics: metrics, logger: logger,
                                 openapiDocument: try Self.loadOpenAPI(config.openapiPath), catalog: catalog, packages: packages, tokens: tokens)
        let runner = JobRunner(store: store, node: node, data: data, catalog: catalog, packages: packages,
                               gzip: config.gzip, executionThreads: ModelEvaluation.threads(workers: config.resolvedWorkers),
                               metrics: metrics, logger: logger)
        if let shared = store as? PostgresJobStore {
            let claiming = ClaimingWorkerPool(
                store: shared,
                settings: .init(node: node, workers: config.resolvedWorkers, leaseSeconds: config.leaseSeconds,
                                policy: AttemptPolicy(maxAttempts: config.maxAttempts)),
                metrics: metrics, logger: logger) { job, flag in runner.execute(job, flag: flag) }
            pool = claiming
        } else {
            pool = WorkerPool(workers: config.resolvedWorkers, capacity: config.queueCapacity) { id, flag in
                runner.run(id, flag: flag)
            }
        }
        server = HTTPServer(configuration: config.httpConfiguration, responder: APIResponder(service: context),
                            tls: try Self.loadTLS(config))
    }

    /// The bound port (differs from the configured one when that is 0).
    public var port: Int { server.port }

    /// Where the service answers, e.g. `https://127.0.0.1:8443`.
    public var url: String { "\(server.isTLS ? "https" : "http")://\(config.host):\(server.port)" }

    /// The certificate and key the settings name, or nil for plain HTTP.
    static func loadTLS(_ config: Configuration) throws -> TLSContext? {
        switch (config.tlsCertificatePath.isEmpty, config.tlsPrivateKeyPath.isEmpty) {
        case (true, true): return nil
        case (false, false): break
        default: throw StartupError("HTTPS needs both server.tls_certificate_path and server.tls_private_key_path; set both or neither")
        }
        do {
            return try TLSContext(certificatePath: config.tlsCertificatePath, privateKeyPath: config.tlsPrivateKeyPath)
        } catch {
            throw StartupError("\(error); fix server.tls_certificate_path / server.tls_private_key_path")
        }
    }

    /// Re-reads the certificate and key (SIGHUP): new connections use them, open ones carry on.
    /// On failure the current ones stay and the error says why.
    public func reloadTLS() throws {
        guard let tls = try Self.loadTLS(config) else { return }
        server.reloadTLS(tls)
        context.logger.info("TLS certificate reloaded", metadata: ["certificate": "\(config.tlsCertificatePath)"])
    }

    public func start() throws {
        if let shared = context.store as? PostgresJobStore, let claiming = pool as? ClaimingWorkerPool {
            shared.startListening(node: context.metrics.node, queued: { [weak claiming] in claiming?.wake() },
                                  cancel: { [weak claiming] id in _ = claiming?.cancel(id) })
        }
        context.attach(pool: pool)
        context.attach(statistics: server.statistics)
        let recovered = try recoverJobs()
        pool.start()
        try server.start()
        scheduleRetention()
        context.logger.info("quantd listening", metadata: [
            "address": "\(url)", "data_dir": "\(config.dataDirectory)", "node": "\(context.metrics.node)",
            "store": "\(config.storeKind.name)",
            "workers": "\(config.resolvedWorkers)", "recovered_jobs": "\(recovered)",
        ])
    }

    /// Jobs that were running here when the process last stopped (even by kill -9) run again,
    /// unless they are out of attempts; their partial files died with tmp/<node>/. On the
    /// embedded store the queued ones go back in the local queue; in a cluster they wait in the
    /// database for any node, and other nodes' jobs are theirs (or the lease sweep's).
    private func recoverJobs() throws -> Int {
        let policy = AttemptPolicy(maxAttempts: config.maxAttempts)
        if let shared = context.store as? PostgresJobStore {
            let outcome = try shared.requeueAbandoned(node: context.data.node, policy: policy)
            return outcome.queued.count + outcome.finished.count
        }
        guard let local = pool as? WorkerPool else { return 0 }
        let pending = try context.store.jobs(withStatus: [.queued, .running])
        for job in pending {
            if job.status == .running {
                let retried = try context.store.update(job.id) { policy.abandon(&$0, at: Date()) }
                guard retried?.status == .queued else { continue }
            }
            try? local.enqueue(job.id, force: true)
        }
        return pending.count
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, and puts
    /// running jobs back in the queue for the next start.
    public func shutdown() {
        context.logger.info("shutting down", metadata: ["grace_seconds": "\(config.shutdownGracePeriod)"])
        context.startDraining()
        context.store.watchers.releaseAll()
        retentionTimer?.cancel()
        server.shutdown(gracePeriod: config.shutdownGracePeriod)
        pool.stop(timeout: config.shutdownGracePeriod)
        (context.store as? PostgresJobStore)?.stopListening()
        context.logger.info("stopped")
    }

    private func scheduleRetention() {
        let hours = config.retentionHours, datasetHours = config.datasetRetentionHours
        guard hours > 0 || datasetHours > 0 else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "quantd.retention"))
        let context = self.context
        timer.schedule(deadline: .now() + 1, repeating: config.retentionSweepSeconds)
        timer.setEventHandler {
            Retention(context: context).sweepOnOneNode {
                let retention = Retention(context: context)
                if hours > 0 { retention.sweep(olderThan: Date().addingTimeInterval(-hours * 3600)) }
                if datasetHours > 0 { retention.sweepDatasets(unusedSince: Date().addingTimeInterval(-datasetHours * 3600)) }
            }
        }
        timer.resume()
        retentionTimer = timer
    }

    /// The file `openapi.path` names, else the copy of openapi.yaml compiled into the binary.
    static func loadOpenAPI(_ configured: String) throws -> [UInt8] {
        guard !configured.isEmpty else { return Array((EmbeddedOpenAPI.yaml + "\n").utf8) }
        guard let data = FileManager.default.contents(atPath: configured) else {
            throw StartupError("cannot read the API contract \(configured); fix openapi.path, or leave it empty for the built-in openapi.yaml")
        }
        return Array(data)
    }
}

/// Removes what is older than the retention period: finished jobs' artifacts and reports (the
/// job row stays, marked expired, so clients get 410 rather than 404), models no queued or
/// running job needs, and datasets their owners no longer use.
struct Retention {
    let context: ServiceContext

    /// Runs `sweep` unless another node of the cluster is sweeping (an advisory lock); the
    /// embedded store has one node, which always sweeps.
    func sweepOnOneNode(_ sweep: () -> Void) {
        guard let shared = context.store as? PostgresJobStore else { return sweep() }
        do {
            if try !shared.ifHoldingLock(PostgresSchema.retentionLock, sweep) {
                context.logger.debug("retention sweep skipped: another node is sweeping")
            }
        } catch {
            context.logger.error("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }

    func sweep(olderThan cutoff: Date) {
        do {
            for job in try context.store.finishedJobs(before: cutoff) {
                try? FileManager.default.removeItem(atPath: context.data.artifact(job: job.id))
                try? FileManager.default.removeItem(atPath: context.data.report(job: job.id))
                try context.store.update(job.id) { $0.expired = true }
            }
            // Under the storage lock (this node's uploads) and by a conditional delete (any
            // node's jobs): a model an upload or a job just used stays, file and row.
            try context.storage.withLock { _ in
                for model in try context.store.unusedModels(before: cutoff) {
                    guard try context.store.deleteModel(model.id, unusedSince: cutoff) else { continue }
                    try? FileManager.default.removeItem(atPath: context.data.model(model.id))
                }
            }
            try context.store.expireIdempotencyKeys(before: cutoff)
        } catch {
            context.logger.error("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }

    /// Ends every tenant's ownership of a dataset it has not uploaded or used since `cutoff`,
    /// and removes the files no owner remains for.
    func sweepDatasets(unusedSince cutoff: Date) {
        do {
            try context.storage.withLock { _ in
                for id in try context.store.expireDatasets(unusedSince: cutoff) {
                    try? FileManager.default.removeItem(atPath: context.data.dataset(id))
                }
            }
        } catch {
            context.logger.error("dataset retention sweep failed", metadata: ["error": "\(error)"])
        }
    }
}
