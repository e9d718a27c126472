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
    private let pool: WorkerPool
    // Set once by start() and cancelled by shutdown(), both called from the owning thread.
    nonisolated(unsafe) private var retentionTimer: DispatchSourceTimer?

    public init(config: Configuration, logger: Logger) throws {
        self.config = config
        let data = DataDirectory(root: config.dataDirectory)
        try data.prepare()
        let store = try JobStore(path: data.database)
        let metrics = Metrics()
        let catalog = try DeviceCatalogFile.load(config.devicesPath)
        let packages = OpenedPackages()
        let tokens = try TokenRegistry(apiTokens: config.apiTokens, tokensPath: config.tokensPath)
        context = ServiceContext(config: config, data: data, store: store, metrics: metrics, logger: logger,
                                 openapiDocument: try Self.loadOpenAPI(config.openapiPath), catalog: catalog, packages: packages, tokens: tokens)
        let runner = JobRunner(store: store, data: data, catalog: catalog, packages: packages,
                               gzip: config.gzip, executionThreads: ModelEvaluation.threads(workers: config.resolvedWorkers),
                               metrics: metrics, logger: logger)
        pool = WorkerPool(workers: config.resolvedWorkers, capacity: config.queueCapacity) { id, flag in
            runner.run(id, flag: flag)
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
        context.attach(pool: pool)
        context.attach(statistics: server.statistics)
        let recovered = try recoverJobs()
        pool.start()
        try server.start()
        scheduleRetention()
        context.logger.info("quantd listening", metadata: [
            "address": "\(url)", "data_dir": "\(config.dataDirectory)",
            "workers": "\(config.resolvedWorkers)", "recovered_jobs": "\(recovered)",
        ])
    }

    /// Jobs that were queued or running when the process last stopped (even by kill -9) run
    /// again; their partial files died with tmp/.
    private func recoverJobs() throws -> Int {
        let pending = try context.store.jobs(withStatus: [.queued, .running])
        for job in pending {
            if job.status == .running {
                try context.store.update(job.id) { $0.status = .queued; $0.progress = 0; $0.startedAt = nil }
            }
            try? pool.enqueue(job.id, force: true)
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
        context.logger.info("stopped")
    }

    private func scheduleRetention() {
        let hours = config.retentionHours, datasetHours = config.datasetRetentionHours
        guard hours > 0 || datasetHours > 0 else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "quantd.retention"))
        let context = self.context
        timer.schedule(deadline: .now() + 1, repeating: config.retentionSweepSeconds)
        timer.setEventHandler {
            let retention = Retention(context: context)
            if hours > 0 { retention.sweep(olderThan: Date().addingTimeInterval(-hours * 3600)) }
            if datasetHours > 0 { retention.sweepDatasets(unusedSince: Date().addingTimeInterval(-datasetHours * 3600)) }
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

    func sweep(olderThan cutoff: Date) {
        do {
            for job in try context.store.finishedJobs(before: cutoff) {
                try? FileManager.default.removeItem(atPath: context.data.artifact(job: job.id))
                try? FileManager.default.removeItem(atPath: context.data.report(job: job.id))
                try context.store.update(job.id) { $0.expired = true }
            }
            // Re-read and delete under the storage lock: an upload or a job may just have used one.
            try context.storage.withLock { _ in
                for model in try context.store.unusedModels(before: cutoff) {
                    try context.store.deleteModel(model.id)
                    try? FileManager.default.removeItem(atPath: context.data.model(model.id))
                }
            }
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
