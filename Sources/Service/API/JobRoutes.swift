import Foundation
import HTTP
import ModelFormats
import QuantCore

extension APIResponder {
    func createJob(_ request: HTTPRequest, tenant: String) throws -> HTTPResponse {
        let query = QueryString(request.head.query)
        let idempotencyHeader = try IdempotencyKey.validated(request.head.headers["Idempotency-Key"])
        var idempotency: IdempotencyKey?
        // A JSON job is the same request when its query, content type and body are; a one-shot
        // job when its query and model bytes are (known once the upload is in).
        if let idempotencyHeader, case .bytes(let body) = request.body {
            let key = IdempotencyKey(tenant: tenant, operation: .createJob, key: idempotencyHeader,
                                     request: ["json", query.canonicalForIdempotency, Self.mediaType(request.head.headers["Content-Type"])],
                                     body: body)
            if let job = try service.replay(key) { return jobCreated(job, replayed: true) }
            idempotency = key
        }
        let modelID: String
        let config: CompressionPipeline
        let preset: String?
        // Checked before a one-shot upload is stored; a job document's own field overrides it.
        var targetName = query["minimum_deployment_target"]
        var target = try targetName.map(CoreMLCompressor.deploymentTarget(named:))
        var onnxForm = try query["onnx_format"].map(ONNXWeightForm.init(named:))
        var datasetID = query["dataset_id"]
        var activations: ActivationQuantizationRequest?
        if case .streamed = request.body {
            // One-shot: the model is the body, the preset the query (coremltools' default
            // config, w8, when none is named).
            let p = try Self.preset(query["preset"] ?? Self.oneShotDefaultPreset)
            let model = try ingest(request, tenant: tenant)
            (modelID, config, preset) = (model.id, p.config, p.name)
            if let idempotencyHeader {
                let key = IdempotencyKey(tenant: tenant, operation: .createJob, key: idempotencyHeader,
                                         request: ["one-shot", query.canonicalForIdempotency, model.id])
                if let job = try service.replay(key) { return jobCreated(job, replayed: true) }
                idempotency = key
            }
        } else {
            guard case .bytes(let body) = request.body, !body.isEmpty else {
                throw Problem.invalidRequest("send JSON {\"model_id\": …, \"config\": …} or {\"model_id\": …, \"preset\": …}")
            }
            var dict = try JobDocument.parse(body, contentType: request.head.headers["Content-Type"])
            // A bare coremltools config (e.g. a team's existing YAML) takes model_id from the query.
            if JobDocument.isBareConfig(dict) {
                // Well-formed, but it cannot run without naming a model: 422, not 400.
                guard let id = query["model_id"], !id.isEmpty else {
                    throw Problem(422, "invalid-request", "The job names no model",
                                  "a bare coremltools config takes its model from ?model_id=… (the id POST /v1/models returned)",
                                  extensions: ["field": "model_id"])
                }
                dict = ["config": dict, "model_id": id]
            }
            if let unknown = dict.keys.sorted().first(where: { !Self.jobFields.contains($0) }) {
                throw Problem.invalidRequest("unknown field '\(unknown)'; a job takes model_id, config or preset, minimum_deployment_target (Core ML), onnx_format (ONNX), evaluation, activation_config and calibration", field: unknown)
            }
            if let value = dict["evaluation"] { datasetID = try Self.evaluationDatasetID(value) }
            if let value = dict["activation_config"] {
                activations = try ActivationQuantizationRequest(activationConfig: value, calibration: dict["calibration"], requireDataset: true)
            } else if dict["calibration"] != nil {
                throw Problem.invalidConfig("calibration applies to activation quantization: give activation_config as well", field: "calibration")
            }
            if let value = dict["onnx_format"] { onnxForm = try ONNXWeightForm(named: value) }
            if let value = dict["minimum_deployment_target"] {
                target = try CoreMLCompressor.deploymentTarget(named: value)
                targetName = value as? String
            }
            guard let id = dict["model_id"] as? String, !id.isEmpty else {
                throw Problem.invalidRequest("model_id is required: the id returned by POST /v1/models", field: "model_id")
            }
            modelID = id
            let configValue: Any? = dict["config"]
            // As for minimum_deployment_target, the document's own fields win over the query's.
            let presetValue: Any? = dict["preset"] ?? (configValue == nil ? query["preset"] : nil)
            if configValue != nil && presetValue != nil {
                throw Problem.invalidRequest("give config or preset, not both", field: "preset")
            } else if let c = configValue {
                do { config = try CompressionPipeline(value: c) } catch {
                    throw Problem.invalidConfig(error.message, field: error.field)
                }
                preset = nil
            } else if let name = presetValue {
                guard let name = name as? String else { throw Problem.invalidRequest("preset must be a string", field: "preset") }
                let p = try Self.preset(name)
                (config, preset) = (p.config, p.name)
            } else if activations != nil {
                // Activations only: the weights stay as they are.
                (config, preset) = (CompressionPipeline([]), nil)
            } else {
                throw Problem.invalidRequest("give either config (coremltools OptimizationConfig dictionary) or preset", field: "config")
            }
        }
        guard let stored = try service.store.model(modelID, ownedBy: tenant) else {
            throw Problem.notFound("model \(modelID) does not exist; upload it first with POST /v1/models")
        }
        let request = CompressionRequest(pipeline: config, minimumDeploymentTarget: target, onnxWeightForm: onnxForm,
                                         activations: activations.map { ActivationQuantizationPlan(config: $0.config, ranges: [:]) })
        do {
            try StoredModelFormat(stored: stored).adapter(path: service.data.model(modelID), packages: service.packages, modelID: modelID).preflight(request)
        } catch let problem as Problem {
            throw problem
        } catch {
            service.logger.error("reading a stored model failed", metadata: ["model": "\(modelID)", "error": "\(error)"])
            throw Problem.gone("model \(modelID) is no longer readable; upload it again")
        }
        if let datasetID { try checkEvaluation(datasetID, model: stored, tenant: tenant) }
        if let calibration = activations?.datasetID {
            try checkEvaluation(calibration, model: stored, tenant: tenant, field: "calibration.dataset_id")
        }
        // A W8A8 job measures itself: on the evaluation samples when given, else on the calibration's.
        let (job, replayed) = try service.submit(modelID: modelID, tenant: tenant, config: config, preset: preset,
                                                 minimumDeploymentTarget: targetName, onnxFormat: onnxForm,
                                                 evaluationDatasetID: datasetID ?? activations?.datasetID, activations: activations,
                                                 idempotency: idempotency)
        return jobCreated(job, replayed: replayed)
    }

    /// 202 with the job; a replay of an `Idempotency-Key` says so in `Idempotent-Replayed`.
    private func jobCreated(_ job: Job, replayed: Bool) -> HTTPResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "Location": "/v1/jobs/\(job.id)"]
        if replayed { headers.set("Idempotent-Replayed", "true") }
        return HTTPResponse(status: 202, headers: headers, body: .bytes(service.jobJSON(job)))
    }

    /// `application/json; charset=utf-8` → `application/json`.
    static func mediaType(_ contentType: String?) -> String {
        (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    static let jobFields: Set<String> = ["model_id", "config", "preset", "minimum_deployment_target", "onnx_format", "evaluation",
                                         "activation_config", "calibration"]

    /// `"evaluation": {"dataset_id": "…"}`: the dataset's id, or a 422 naming the field.
    static func evaluationDatasetID(_ value: Any) throws -> String {
        guard let object = value as? [String: Any] else {
            throw Problem.invalidConfig("evaluation must be an object: {\"dataset_id\": \"…\"}", field: "evaluation")
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "dataset_id" }) {
            throw Problem.invalidConfig("unknown field '\(unknown)' in evaluation; it takes dataset_id", field: "evaluation.\(unknown)")
        }
        guard let id = object["dataset_id"] as? String, !id.isEmpty else {
            throw Problem.invalidConfig("evaluation.dataset_id must be the id POST /v1/datasets returned", field: "evaluation.dataset_id")
        }
        return id
    }

    /// Before the job is queued: the dataset exists for this tenant, the model can run, and the
    /// samples fit its inputs. `field` names where the request gave the dataset.
    func checkEvaluation(_ datasetID: String, model: StoredModel, tenant: String, field: String = "dataset_id") throws {
        guard let (_, file) = try service.openDataset(datasetID, tenant: tenant) else {
            throw Problem.notFound("dataset \(datasetID) does not exist; upload the samples first with POST /v1/datasets")
        }
        let adapter = try StoredModelFormat(stored: model).adapter(path: service.data.model(model.id), packages: service.packages, modelID: model.id)
        try ModelEvaluation.check(file.signature, against: adapter, field: field)
    }

    /// coremltools' default `OpLinearQuantizerConfig`: int8, symmetric, per channel.
    static let oneShotDefaultPreset = "w8"

    static func preset(_ name: String) throws -> Presets.Preset {
        guard let p = Presets.named(name) else {
            throw Problem.invalidRequest("unknown preset '\(name)'; known presets: \(Presets.all.map(\.name).joined(separator: ", "))", field: "preset")
        }
        return p
    }

    func listJobs(_ head: HTTPRequestHead, tenant: String) throws -> HTTPResponse {
        let query = QueryString(head.query)
        var status: JobStatus?
        if let s = query["status"] {
            guard let parsed = JobStatus(rawValue: s) else {
                throw Problem.invalidRequest("status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))", field: "status")
            }
            status = parsed
        }
        var limit = 50
        if let l = query["limit"] {
            guard let n = Int(l), (1...500).contains(n) else { throw Problem.invalidRequest("limit must be 1…500", field: "limit") }
            limit = n
        }
        let jobs = try service.store.list(tenant: tenant, status: status, after: query["cursor"], limit: limit + 1)
        let page = Array(jobs.prefix(limit))
        var body: [UInt8] = Array(#"{"jobs":["#.utf8)
        for (i, job) in page.enumerated() {
            if i > 0 { body.append(UInt8(ascii: ",")) }
            body += service.jobJSON(job)
        }
        body += Array("],\"next_cursor\":".utf8)
        body += jobs.count > limit ? Array("\"\(page.last!.id)\"".utf8) : Array("null".utf8)
        body.append(UInt8(ascii: "}"))
        return HTTPResponse(status: 200, contentType: "application/json", body: body)
    }

    func getJob(_ id: String, tenant: String) throws -> HTTPResponse {
        guard let job = try service.job(id, tenant: tenant) else { throw Self.noSuchJob(id) }
        return HTTPResponse(status: 200, contentType: "application/json", body: service.jobJSON(job))
    }

    /// The longest `?wait=` a request may hold its connection for.
    static let maxWaitSeconds = 600.0

    /// A `wait` query value in seconds, or nil when it is not a number from 0 to the maximum.
    static func waitSeconds(_ value: String) -> Double? {
        guard let seconds = Double(value), seconds.isFinite, (0...maxWaitSeconds).contains(seconds) else { return nil }
        return seconds
    }

    static var badWait: Problem {
        Problem.invalidRequest("wait must be a number of seconds from 0 to \(Int(maxWaitSeconds))", field: "wait")
    }

    /// `GET /v1/jobs/{id}?wait=S`: answers when the job finishes or after S seconds, whichever
    /// is first, with the job as it is then; a build pipeline blocks on one request instead of
    /// polling. Validation errors and unknown jobs answer at once.
    func waitForJob(_ id: String, wait: String, _ request: HTTPRequest, _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        let respondNow: @Sendable () -> Void = { [self] in answering { done(self.handle(.getJob(id), request)) } }
        waitForJob(id, wait: wait, for: request, respondNow, done)
    }

    /// `POST /v1/jobs?wait=S`: queues the job as without `wait`, then answers as the wait on it
    /// would, with the job's Location: 200 once it has finished, 202 if it is still queued or
    /// running after S seconds. A refused job answers its problem at once.
    func createJobAndWait(_ request: HTTPRequest, wait: String, _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        let created = handle(.createJob, request)
        guard created.status == 202, let location = created.headers["Location"],
              let id = location.split(separator: "/").last.map(String.init) else { return done(created) }
        let respondNow: @Sendable () -> Void = { [self] in
            answering { [self] in
                guard let job = try? service.store.job(id) else { return done(created) }
                done(HTTPResponse(status: job.status.isFinished ? 200 : 202,
                                  headers: ["Content-Type": "application/json", "Location": location], body: .bytes(service.jobJSON(job))))
            }
        }
        waitForJob(id, wait: wait, for: request, respondNow, done)
    }

    private func waitForJob(_ id: String, wait: String, for request: HTTPRequest, _ respondNow: @escaping @Sendable () -> Void,
                            _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let seconds = Self.waitSeconds(wait) else { return done(Self.badWait.response) }
        // Another tenant's job is answered at once, as the 404 it is for this client.
        let tenant = service.tenant(of: request.head) ?? TokenRegistry.defaultTenant
        guard (try? service.job(id, tenant: tenant)) != nil else { return respondNow() }
        let watcher = service.store.watchers.watch(id, seconds: seconds, respondNow)
        // Registered first, checked second: a job that finished in between is answered here.
        if let job = try? service.store.job(id), job.status.isFinished || seconds == 0 {
            service.store.watchers.remove(watcher)
            watcher.fire()
        }
    }

    func cancelJob(_ id: String, tenant: String) throws -> HTTPResponse {
        guard let job = try service.job(id, tenant: tenant) else { throw Self.noSuchJob(id) }
        guard !job.status.isFinished else {
            throw Problem.conflict("job \(id) already \(job.status.rawValue); only queued or running jobs can be cancelled")
        }
        let updated = try service.cancel(job)
        return HTTPResponse(status: updated.status == .cancelled ? 200 : 202, contentType: "application/json", body: service.jobJSON(updated))
    }

    func artifact(_ id: String, _ head: HTTPRequestHead, tenant: String) throws -> HTTPResponse {
        let job = try ArtifactRewrite(data: service.data, store: service.store, gzip: service.config.gzip)
            .oneMember(finishedJob(id, tenant: tenant))
        guard let file = HTTPFileRegion(path: service.data.artifact(job: id)) else {
            throw Problem.gone("the artifact of job \(id) is no longer stored")
        }
        let name = job.artifactName ?? "\(id).safetensors"
        var headers: HTTPHeaders = ["Vary": "Accept-Encoding", "Cache-Control": "private, max-age=31536000, immutable"]
        if ContentNegotiation.acceptsGzip(head.headers["Accept-Encoding"]) {
            headers.set("Content-Type", "application/octet-stream")
            headers.set("Content-Encoding", "gzip")
            headers.set("Content-Disposition", "attachment; filename=\"\(name)\"")
        } else {
            headers.set("Content-Type", "application/gzip")
            headers.set("Content-Disposition", "attachment; filename=\"\(name).gz\"")
        }
        return FileResponse.make(for: head, file: file, etag: "\"\(id)-\(file.size)\"", headers: headers)
    }

    func report(_ id: String, _ head: HTTPRequestHead, tenant: String) throws -> HTTPResponse {
        _ = try finishedJob(id, tenant: tenant)
        guard let file = HTTPFileRegion(path: service.data.report(job: id)) else {
            throw Problem.gone("the report of job \(id) is no longer stored")
        }
        return FileResponse.make(for: head, file: file, etag: "\"\(id)-report-\(file.size)\"",
                                 headers: ["Content-Type": "application/json"])
    }

    /// The report rendered as one self-contained HTML page (`ReportPage`).
    func reportPage(_ id: String, tenant: String) throws -> HTTPResponse {
        _ = try finishedJob(id, tenant: tenant)
        guard let data = FileManager.default.contents(atPath: service.data.report(job: id)) else {
            throw Problem.gone("the report of job \(id) is no longer stored")
        }
        let report = try JSONDecoder().decode(CompressionReport.self, from: data)
        return HTTPResponse(status: 200, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"],
                            body: .bytes(Array(ReportPage(report: report).html.utf8)))
    }

    private func finishedJob(_ id: String, tenant: String) throws -> Job {
        guard let job = try service.job(id, tenant: tenant) else { throw Self.noSuchJob(id) }
        if job.expired { throw Problem.gone("job \(id) finished more than the retention period ago; its outputs were removed") }
        switch job.status {
        case .succeeded: return job
        case .failed: throw Problem.conflict("job \(id) failed: \(job.error ?? "unknown error"); it has no artifact")
        case .cancelled: throw Problem.conflict("job \(id) was cancelled; it has no artifact")
        case .queued, .running:
            throw Problem(409, "job-not-finished", "The job has not finished", "job \(id) is \(job.status.rawValue); poll GET /v1/jobs/\(id) until status is succeeded", retryAfter: 1)
        }
    }

    static func noSuchJob(_ id: String) -> Problem {
        Problem.notFound("job \(id) does not exist; list jobs with GET /v1/jobs")
    }
}

/// `a=1&b=2` with percent-decoding; the first value of a repeated key wins.
struct QueryString {
    private var values: [String: String] = [:]

    init(_ query: Substring) {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(kv[0])
            if values[key] == nil { values[key] = kv.count > 1 ? Self.decode(kv[1]) : "" }
        }
    }

    subscript(_ key: String) -> String? { values[key] }

    /// The parameters that say what a request asks for, decoded and in one order: `wait` says
    /// only how long to hold the answer, so a retry without it is the same request.
    var canonicalForIdempotency: String {
        values.filter { $0.key != "wait" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }

    private static func decode(_ s: Substring) -> String {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
    }
}
