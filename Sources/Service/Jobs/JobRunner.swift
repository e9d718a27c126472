import Estimation
import Execution
import Compression
import Foundation
import Glibc
import Logging
import ModelFormats
import QuantCore

/// Runs one job on a worker thread: model → compressed model → gzip artifact + report, each
/// written to this node's tmp/ and renamed into place, then the job row marked succeeded. A
/// crash at any point leaves the job queued or running, so it runs again after restart (or,
/// in a cluster, on another node once its lease expires).
struct JobRunner: Sendable {
    let store: any JobStore
    /// This node's `cluster.node_id`: the job rows it writes are the ones it holds.
    let node: String
    let data: DataDirectory
    let catalog: DeviceCatalog
    let packages: OpenedPackages
    let gzip: ParallelGzip
    /// Threads an evaluation's executors use.
    let executionThreads: Int
    let metrics: Metrics
    let logger: Logger

    /// Starts a job the local queue handed over, then runs it.
    func run(_ id: String, flag: CancellationFlag) {
        // Only a job still queued starts: a cancel may have landed since it was dequeued.
        let node = self.node
        guard !flag.isStopped, let job = try? store.update(id, { job in
            guard job.status == .queued else { return }
            job.status = .running
            job.startedAt = Date()
            job.attempts += 1
            job.progress = 0
            job.node = node
        }), job.status == .running, job.node == node else { return }
        execute(job, flag: flag)
    }

    /// Runs a job this node started or claimed (status running, `node` this node). Its
    /// `attempts` is the claim's fencing token: rows are written only while they still carry it,
    /// and temporary files are named by it, so a run that lost its lease (and a later claim of
    /// the same job, even by this node) never write over each other.
    func execute(_ job: Job, flag: CancellationFlag) {
        let id = job.id
        let claim = Claim(node: node, attempt: job.attempts)
        let started = Date()
        let tmpGzip = data.temporary("\(id)-\(claim.attempt).gz")
        let tmpReport = data.temporary("\(id)-\(claim.attempt).report.json")
        // The compressed model as written, before gzip, for the evaluation to run.
        let tmpModel = data.temporary("\(id)-\(claim.attempt).model")
        defer { for p in [tmpGzip, tmpReport, tmpModel] { unlink(p) } }
        let report: CompressionReport, name: String
        do {
            (report, name) = try compress(job, claim: claim, tmpGzip: tmpGzip, tmpModel: tmpModel, flag: flag)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try Self.writeDurably(try encoder.encode(report), to: tmpReport)
            try DataDirectory.commit(tmpReport, to: data.report(job: id))
            try DataDirectory.commit(tmpGzip, to: data.artifact(job: id))
        } catch {
            return finish(id, claim: claim, after: error, flag: flag, started: started)
        }
        // The artifact is in place: a failure to record that is not the job's failure. The row
        // stays running; on a shared store the lease sweep runs it again, on the embedded one the
        // next start does.
        do {
            try finalWrite(id, claim: claim) { job in
                job.status = .succeeded
                job.progress = 1
                job.finishedAt = Date()
                job.artifactBytes = Int64(report.totals.gzipBytes)
                job.artifactName = name
                job.artifactEncoding = .gzip
            }
            metrics.recordJobDuration(Date().timeIntervalSince(started))
            logger.info("job succeeded", metadata: ["job": "\(id)", "seconds": "\(Date().timeIntervalSince(started))"])
        } catch {
            logger.error("job done but its outcome could not be recorded", metadata: ["job": "\(id)", "error": "\(error)"])
        }
    }

    /// A node and the attempt it holds a job by.
    struct Claim: Sendable, Equatable {
        var node: String
        var attempt: Int

        /// Whether `job`'s row is still this claim's to write.
        func holds(_ job: Job) -> Bool { job.status == .running && job.node == node && job.attempts == attempt }
    }

    private func finish(_ id: String, claim: Claim, after error: any Error, flag: CancellationFlag, started: Date) {
        // A stop request only explains a failure that the stop itself caused.
        let stopped = error is CancellationError ? flag.stopReason : nil
        switch stopped {
        case .shutdown:
            try? finalWrite(id, claim: claim) { job in
                if job.cancelRequested {
                    // A cancel that arrived as the node was stopping still ends the job.
                    job.status = .cancelled
                    job.finishedAt = Date()
                    return
                }
                job.status = .queued
                job.progress = 0
                job.startedAt = nil
                job.leaseExpiresAt = nil
                // A graceful stop is not a crash: the start it cut off is given back.
                job.attempts -= 1
            }
            logger.info("job requeued for after restart", metadata: ["job": "\(id)"])
        case .leaseLost:
            // Another node requeued it (this one stalled past its lease): the row is not ours.
            logger.warning("job stopped: its lease was lost to another node", metadata: ["job": "\(id)"])
        case .cancelled:
            try? finalWrite(id, claim: claim) { job in
                job.status = .cancelled
                job.finishedAt = Date()
            }
            logger.info("job cancelled", metadata: ["job": "\(id)"])
        case nil:
            let message = Self.message(for: error)
            try? finalWrite(id, claim: claim) { job in
                job.status = .failed
                job.finishedAt = Date()
                job.error = message
            }
            metrics.recordJobDuration(Date().timeIntervalSince(started))
            logger.warning("job failed", metadata: ["job": "\(id)", "error": "\(error)"])
        }
    }

    /// Writes a job's outcome if this node still holds it, retrying while the database is
    /// unreachable (a restart, a failover) for up to a minute: an outcome written late beats a
    /// job run twice.
    private func finalWrite(_ id: String, claim: Claim, _ change: @escaping @Sendable (inout Job) -> Void) throws {
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                try store.update(id) { job in
                    guard claim.holds(job) else { return }
                    change(&job)
                }
                return
            } catch where Date() < deadline && isDatabaseUnavailable(error) {
                logger.warning("job outcome not written yet; retrying", metadata: ["job": "\(id)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// What the job's `error` field says: problems and model errors are written for users;
    /// anything else (file system errors carry paths) is logged, not shown.
    static func message(for error: any Error) -> String {
        if let p = error as? Problem { return p.detail }
        if let e = error as? CompressionError { return Problem(e).detail }
        if let e = error as? SafetensorsError { return "the model is not valid safetensors: \(e)" }
        if let e = error as? QuantCoreError { return "compression failed: \(e)" }
        if let e = error as? OptimizationConfig.Invalid { return "invalid config: \(e)" }
        if let e = error as? ExecutionError { return Problem(e).detail }
        return "the job failed on the server (\(type(of: error))); see the server log"
    }

    private func compress(_ job: Job, claim: Claim, tmpGzip: String, tmpModel: String, flag: CancellationFlag) throws -> (CompressionReport, String) {
        let configObject = try JSONSerialization.jsonObject(with: Data(job.config.utf8))
        // An activation-only job stores no weight stages (the API refuses an empty config otherwise).
        let config = (configObject as? [Any])?.isEmpty == true ? CompressionPipeline([]) : try CompressionPipeline(value: configObject)
        let modelPath = data.model(job.modelId)
        let uploadBytes = Int((try? FileManager.default.attributesOfItem(atPath: modelPath)[.size] as? NSNumber)?.intValue ?? 0)
        guard let stored = try store.model(job.modelId) else { throw Problem.gone("model \(job.modelId) is no longer stored; upload it again") }
        let format = try StoredModelFormat(stored: stored)
        var request = CompressionRequest(pipeline: config,
                                         minimumDeploymentTarget: try job.minimumDeploymentTarget.map(CoreMLCompressor.deploymentTarget(named:)),
                                         onnxWeightForm: try job.onnxFormat.map(ONNXWeightForm.init(named:)))
        let activations = try job.activationConfig.map { config in
            try ActivationQuantizationRequest(activationConfig: try JSONSerialization.jsonObject(with: Data(config.utf8)),
                                              calibration: try job.calibration.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) },
                                              requireDataset: true)
        }

        let started = Date()
        let out = open(tmpGzip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw Problem.storage("cannot create the artifact file: \(String(cString: strerror(errno)))") }
        defer { close(out) }
        // The artifact is never written uncompressed: members are gzipped while later tensors
        // are still being quantized.
        let file = DirectFileOutput(fd: out, path: tmpGzip)
        let gzipStream = ParallelGzip.Stream(gzip, output: { try file.write($0) })
        var throttle = ProgressThrottle(start: Date().timeIntervalSinceReferenceDate)
        // With an evaluation, compression (after calibration, for activation quantization) is the
        // first half of the job and running the models the second.
        let compressionShare = job.evaluationDatasetId == nil ? 1.0 : 0.5
        let calibrationShare = activations == nil ? 0 : compressionShare / 2
        let progress = { (p: Double) in
            if throttle.shouldWrite(p, at: Date().timeIntervalSinceReferenceDate) {
                _ = try? store.update(job.id) { job in
                    guard claim.holds(job) else { return }
                    job.progress = min(p, 0.99)
                }
            }
        }
        let original = try format.adapter(path: modelPath, packages: packages, modelID: job.modelId)
        var calibrated: (samples: Int, seconds: Double)?
        if let activations, let datasetID = activations.datasetID {
            let calibrationStarted = Date()
            let dataset = try openDataset(datasetID, tenant: job.tenant)
            let (ranges, samples) = try ModelCalibration.ranges(of: original, dataset: dataset, method: activations.method, threads: executionThreads,
                                                                progress: { progress($0 * calibrationShare) }, isCancelled: { flag.isStopped })
            request.activations = ActivationQuantizationPlan(config: activations.config, ranges: ranges)
            calibrated = (samples, Date().timeIntervalSince(calibrationStarted))
        }
        let modelFile = job.evaluationDatasetId == nil ? -1 : open(tmpModel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if job.evaluationDatasetId != nil && modelFile < 0 {
            throw Problem.storage("cannot create the compressed model's file: \(String(cString: strerror(errno)))")
        }
        defer { if modelFile >= 0 { close(modelFile) } }
        let outcome = try original.compress(request, to: { bytes in
            try gzipStream.write(bytes)
            if modelFile >= 0 { try writeAll(bytes, to: modelFile) }
        }, progress: { progress(calibrationShare + $0 * (compressionShare - calibrationShare)) }, isCancelled: { flag.isStopped })
        let parameters = outcome.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let gzipBytes = try gzipStream.finish()
        try file.finish()
        guard fsync(out) == 0 else { throw Problem.storage("fsync of the artifact failed: \(String(cString: strerror(errno)))") }

        let quantized = outcome.tensors.filter { $0.action == "compressed" }
        let weighted = quantized.compactMap { t in t.sqnrDB.map { ($0, Double(t.shape.reduce(1, *))) } }
        let weight = weighted.reduce(0) { $0 + $1.1 }
        var report = CompressionReport(
            jobID: job.id, modelID: job.modelId, format: format.rawValue, tensors: outcome.tensors,
            totals: .init(
                tensors: outcome.tensors.count, quantizedTensors: quantized.count, parameters: parameters,
                quantizedParameters: quantized.reduce(0) { $0 + $1.shape.reduce(1, *) },
                uploadBytes: uploadBytes, float16Bytes: parameters * 2, artifactBytes: outcome.artifactBytes,
                gzipBytes: gzipBytes,
                compressionRatioVsFloat16: Double(parameters * 2) / Double(max(1, outcome.artifactBytes)),
                compressionRatioVsUpload: Double(uploadBytes) / Double(max(1, outcome.artifactBytes)),
                meanSQNRDB: weight > 0 ? weighted.reduce(0) { $0 + $1.0 * $1.1 } / weight : nil),
            warnings: outcome.warnings,
            timings: .init(compressSeconds: Date().timeIntervalSince(started), readSeconds: outcome.readSeconds,
                           encodeSeconds: outcome.encodeSeconds,
                           totalSeconds: Date().timeIntervalSince(job.startedAt ?? started)))
        if let activations, let calibrated, let summary = outcome.activationQuantization {
            report.activationQuantization = ActivationQuantizationReport(summary, request: activations, samples: calibrated.samples,
                                                                         seconds: calibrated.seconds)
        }
        if let datasetID = job.evaluationDatasetId {
            let evaluation = try evaluate(job, datasetID: datasetID, original: original, compressed: try format.adapter(path: tmpModel),
                                          progress: { progress(compressionShare + $0 * (1 - compressionShare)) }, flag: flag)
            report.evaluation = evaluation
            report.timings.totalSeconds = Date().timeIntervalSince(job.startedAt ?? started)
        }
        report.estimates = outcome.estimates(catalog: catalog)
        if let measured = report.evaluation?.measuredAgreement { report.estimates?.accuracy?.measured = measured }
        let name = "\(job.modelId.prefix(12))-\(job.preset ?? "custom")" + outcome.artifactExtension
        return (report, name)
    }

    /// A dataset the job reads, still there and still this tenant's.
    private func openDataset(_ datasetID: String, tenant: String) throws -> DatasetFile {
        guard try store.touchDataset(datasetID, tenant: tenant), try store.dataset(datasetID, ownedBy: tenant) != nil else {
            throw Problem.gone("dataset \(datasetID) was deleted before the job ran; upload it again and resubmit")
        }
        do { return try DatasetFile(path: data.dataset(datasetID)) } catch {
            throw Problem.gone("dataset \(datasetID) is no longer readable; upload it again and resubmit")
        }
    }

    private func evaluate(_ job: Job, datasetID: String, original: any FormatAdapter, compressed: any FormatAdapter,
                          progress: (Double) -> Void, flag: CancellationFlag) throws -> EvaluationReport {
        let dataset = try openDataset(datasetID, tenant: job.tenant)
        return try ModelEvaluation.run(original: original, compressed: compressed, dataset: dataset, datasetID: datasetID,
                                       threads: executionThreads, progress: progress, isCancelled: { flag.isStopped })
    }

    static func writeDurably(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Problem.storage("cannot create the report file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try data.withUnsafeBytes { try writeAll($0, to: fd) }
        guard fsync(fd) == 0 else { throw Problem.storage("fsync of the report failed: \(String(cString: strerror(errno)))") }
    }
}
