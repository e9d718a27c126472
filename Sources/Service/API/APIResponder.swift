import Foundation
import HTTP
import Logging

/// The service's HTTP face: routes each request (see `Route`), checks auth and body limits
/// before any body byte is read, and turns every failure into problem+json.
final class APIResponder: HTTPResponder {
    let service: ServiceContext
    /// Cheap requests (job polling, health) are answered on the event loop; anything that
    /// touches the disk or fsyncs goes here.
    private let work = DispatchQueue(label: "quantd.api", qos: .userInitiated, attributes: .concurrent)

    init(service: ServiceContext) {
        self.service = service
    }

    func bodyDecision(for head: HTTPRequestHead) -> HTTPBodyDecision {
        let route = Route.match(method: head.method, path: head.path)
        if requiresToken(route), service.tenant(of: head) == nil {
            return .reject(recorded(Problem.unauthorized().response, route: route, method: head.method))
        }
        if case .createJob = route, let wait = QueryString(head.query)["wait"], Self.waitSeconds(wait) == nil {
            // Refused before a model body is read or a job is queued.
            return .reject(recorded(Self.badWait.response, route: route, method: head.method))
        }
        switch route {
        case .uploadModel:
            return uploadDecision(head)
        case .createJob where Self.isModelBody(head):
            return uploadDecision(head)
        case .uploadDataset:
            let limit = service.config.datasetMaxBytes
            // Said before the body is read, and naming the setting, when the length is known.
            if case .contentLength(let n) = head.framing, n > limit {
                return .reject(recorded(Problem.datasetTooLarge(bytes: n, limit: limit).response, route: route, method: head.method))
            }
            return uploadDecision(head, part: "dataset", maxBytes: limit)
        case .notFound, .methodNotAllowed:
            return .reject(recorded(problem(for: route, head).response, route: route, method: head.method))
        default:
            return .collect(maxBytes: service.config.maxJSONBytes)
        }
    }

    /// Streams a file upload (raw, or the `part` of a multipart body) to a temp file.
    private func uploadDecision(_ head: HTTPRequestHead, part: String = "model", maxBytes: UInt64? = nil) -> HTTPBodyDecision {
        let boundary: String?
        if let type = head.headers["Content-Type"], type.lowercased().hasPrefix("multipart/") {
            guard let b = MultipartParser.boundary(contentType: type) else {
                return .reject(Problem.invalidRequest("Content-Type multipart/form-data needs a boundary parameter", field: "Content-Type").response)
            }
            boundary = b
        } else {
            boundary = nil
        }
        if !head.hasBody {
            return .reject(Problem.invalidRequest("the request has no body; send the \(part) file with curl -T FILE or -F \(part)=@FILE").response)
        }
        do {
            return .stream(try UploadSink(directory: service.data.tmp, multipartBoundary: boundary, partName: part),
                           maxBytes: maxBytes ?? service.config.maxUploadBytes)
        } catch {
            return .reject((error as? Problem ?? Problem.storage("\(error)")).response)
        }
    }

    func errorResponse(status: Int, detail: String) -> HTTPResponse {
        let response = Problem.http(status: status, detail: detail).response
        service.metrics.recordRequest(route: "http-error", method: "-", status: status)
        return response
    }

    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let head = request.head
        let route = Route.match(method: head.method, path: head.path)
        let done: @Sendable (HTTPResponse) -> Void = { [service] response in
            service.metrics.recordRequest(route: route.template, method: head.method, status: response.status)
            completion(response)
        }
        if case .getJob(let id) = route, head.method == "GET", let wait = QueryString(head.query)["wait"] {
            if jobReadsAreInMemory {
                waitForJob(id, wait: wait, request, done)
            } else {
                work.async { [self] in waitForJob(id, wait: wait, request, done) }
            }
        } else if case .createJob = route, let wait = QueryString(head.query)["wait"] {
            work.async { [self] in createJobAndWait(request, wait: wait, done) }
        } else if answersInline(route) {
            done(handle(route, request))
        } else {
            work.async { [self] in done(handle(route, request)) }
        }
    }

    /// Whether reading a job is a memory lookup (the embedded store's cache), cheap enough for an
    /// event loop; on a shared database it is a round trip, which must not hold a loop.
    var jobReadsAreInMemory: Bool { !(service.store is PostgresJobStore) }

    /// Runs `body` here when it only reads jobs from memory, else on the request queue: a
    /// long-poll's answer is fired from a timer or a notification thread.
    func answering(_ body: @escaping @Sendable () -> Void) {
        if jobReadsAreInMemory { body() } else { work.async(execute: body) }
    }

    private func answersInline(_ route: Route) -> Bool {
        switch route {
        case .health, .presets, .openapi: true
        case .getJob: jobReadsAreInMemory
        default: false
        }
    }

    private func recorded(_ response: HTTPResponse, route: Route, method: String) -> HTTPResponse {
        service.metrics.recordRequest(route: route.template, method: method, status: response.status)
        return response
    }

    /// Whether the route needs a known token: every /v1 route, and /metrics when
    /// `auth.metrics_requires_token` says so.
    private func requiresToken(_ route: Route) -> Bool {
        if case .metrics = route { return service.config.metricsRequireToken && !service.tokens.isOpen }
        return route.requiresAuthentication
    }

    func handle(_ route: Route, _ request: HTTPRequest) -> HTTPResponse {
        // Routes that need a token were refused in bodyDecision without one; the rest act for
        // the default tenant when anonymous.
        let tenant = service.tenant(of: request.head) ?? TokenRegistry.defaultTenant
        do {
            switch route {
            case .health: return json(200, ["status": "ok"])
            case .ready: return ready()
            case .metrics: return HTTPResponse.text(200, service.renderMetrics(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            case .openapi: return openapi()
            case .presets: return presets()
            case .devices: return try devices()
            case .estimate: return try estimate(request, tenant: tenant)
            case .uploadModel: return try uploadModel(request, tenant: tenant)
            case .getModel(let id): return try getModel(id, tenant: tenant)
            case .uploadDataset: return try uploadDataset(request, tenant: tenant)
            case .listDatasets: return try listDatasets(request.head, tenant: tenant)
            case .getDataset(let id): return try getDataset(id, tenant: tenant)
            case .deleteDataset(let id): return try deleteDataset(id, tenant: tenant)
            case .createJob: return try createJob(request, tenant: tenant)
            case .listJobs: return try listJobs(request.head, tenant: tenant)
            case .getJob(let id): return try getJob(id, tenant: tenant)
            case .cancelJob(let id): return try cancelJob(id, tenant: tenant)
            case .artifact(let id): return try artifact(id, request.head, tenant: tenant)
            case .report(let id):
                if ContentNegotiation.prefersHTML(request.head.headers["Accept"]) { return try reportPage(id, tenant: tenant) }
                return try report(id, request.head, tenant: tenant)
            case .reportPage(let id): return try reportPage(id, tenant: tenant)
            case .notFound, .methodNotAllowed: return problem(for: route, request.head).response
            }
        } catch let p as Problem {
            if case .streamed(let sink) = request.body { sink.abort() }
            return p.response
        } catch where isDatabaseUnavailable(error) {
            if case .streamed(let sink) = request.body { sink.abort() }
            service.logger.warning("job database unavailable", metadata: ["route": "\(route.template)", "error": "\(error)"])
            return Problem.databaseUnavailable().response
        } catch {
            if case .streamed(let sink) = request.body { sink.abort() }
            service.logger.error("unhandled error", metadata: ["route": "\(route.template)", "error": "\(error)"])
            return Problem.internalError("the server failed unexpectedly; the error was logged").response
        }
    }

    private func problem(for route: Route, _ head: HTTPRequestHead) -> Problem {
        if case .methodNotAllowed(let allowed) = route {
            return Problem.methodNotAllowed(head.method, String(head.path), allowed: allowed)
        }
        return Problem.notFound("there is no resource at \(head.path); see GET /openapi.yaml for the API")
    }

    static func isJSON(_ contentType: String?) -> Bool {
        guard let t = contentType?.lowercased() else { return false }
        return t.hasPrefix("application/json") || t.hasPrefix("application/problem+json")
    }

    /// A one-shot job (`POST /v1/jobs?preset=…`) carries the model itself, not a job document.
    /// A one-shot job: the model is the body, said by its type (octet-stream, multipart) or by
    /// a `?preset=` on a body that is not a JSON or YAML document.
    static func isModelBody(_ head: HTTPRequestHead) -> Bool {
        let type = head.headers["Content-Type"]?.lowercased() ?? ""
        if type.hasPrefix("application/octet-stream") || type.hasPrefix("multipart/") { return true }
        return QueryString(head.query)["preset"] != nil && !isJSON(type) && !JobDocument.isYAML(type)
    }

    func json(_ status: Int, _ object: Any, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var response = HTTPResponse(status: status, contentType: "application/json", body: Array(data))
        for (k, v) in headers { response.headers.set(k, v) }
        return response
    }
}
