import Foundation
import HTTP

/// An RFC 9457 problem: the only shape an error leaves the service in. `type` is a stable
/// URI per kind of problem, so clients can branch on it; `detail` tells the user what to fix.
public struct Problem: Error, Sendable, Equatable, HTTPResponseConvertible {
    public var status: Int
    /// The last path segment of the type URI, e.g. `invalid-model`.
    public var kind: String
    public var title: String
    public var detail: String
    /// Extra members, e.g. the offending config field.
    public var extensions: [String: String] = [:]
    public var retryAfter: Int?
    /// The methods a 405's resource supports: its `Allow` header (RFC 9110 §15.5.6).
    public var allow: [String]?

    public static let typeBase = "https://quantd.dev/problems/"

    public init(_ status: Int, _ kind: String, _ title: String, _ detail: String,
                extensions: [String: String] = [:], retryAfter: Int? = nil) {
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.extensions = extensions
        self.retryAfter = retryAfter
    }

    public var response: HTTPResponse {
        var object: [String: Any] = ["type": Self.typeBase + kind, "title": title, "status": status, "detail": detail]
        for (k, v) in extensions { object[k] = v }
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        var response = HTTPResponse(status: status, contentType: "application/problem+json", body: Array(body))
        if let retryAfter { response.headers.set("Retry-After", "\(retryAfter)") }
        if let allow { response.headers.set("Allow", allow.joined(separator: ", ")) }
        if status == 401 { response.headers.set("WWW-Authenticate", #"Bearer realm="quantd""#) }
        return response
    }

    // The catalogue: one constructor per stable type.

    static func notFound(_ what: String) -> Problem {
        Problem(404, "not-found", "Not found", what)
    }
    static func methodNotAllowed(_ method: String, _ path: String, allowed: [String]) -> Problem {
        var problem = Problem(405, "method-not-allowed", "Method not allowed",
                              "\(method) is not supported on \(path); use \(allowed.joined(separator: ", ")).",
                              extensions: ["allow": allowed.joined(separator: ", ")])
        problem.allow = allowed
        return problem
    }
    static func unauthorized() -> Problem {
        Problem(401, "unauthorized", "Authentication required", "Send 'Authorization: Bearer <token>' with a token the server knows (quantd token add, or server.api_tokens).")
    }
    static func tenantQueueFull(limit: Int) -> Problem {
        Problem(429, "tenant-queue-full", "Too many queued jobs", "your tenant already has \(limit) jobs queued (tenants.max_queued_jobs); wait for some to start, then retry", retryAfter: 5)
    }
    static func storageQuotaExceeded(stored: Int64, adding: Int64, limit: Int64) -> Problem {
        Problem(413, "storage-quota-exceeded", "Storage quota exceeded",
                "your tenant stores \(stored) bytes of models, datasets and artifacts" + (adding > 0 ? " and this upload adds \(adding)" : "")
                + ", over its \(limit) bytes (tenants.max_stored_bytes); older artifacts and unused models are removed after storage.retention_hours, "
                + "unused datasets after datasets.retention_hours, and DELETE /v1/datasets/{id} removes one now")
    }
    static func invalidModel(_ detail: String) -> Problem {
        Problem(422, "invalid-model", "The model file is invalid", detail)
    }
    static func unsupportedFormat(_ detail: String) -> Problem {
        Problem(415, "unsupported-model-format", "Unsupported model format", detail)
    }
    static func invalidDataset(_ detail: String) -> Problem {
        Problem(422, "invalid-dataset", "The dataset is invalid", detail)
    }
    static func unsupportedDatasetFormat(_ detail: String) -> Problem {
        Problem(415, "unsupported-dataset-format", "Unsupported dataset format", detail)
    }
    static func datasetTooLarge(bytes: UInt64, limit: UInt64) -> Problem {
        Problem(413, "dataset-too-large", "The dataset is too large",
                "the dataset is \(bytes) bytes, over the limit of \(limit) bytes (datasets.max_bytes); send fewer samples")
    }
    static func invalidRequest(_ detail: String, field: String? = nil) -> Problem {
        Problem(400, "invalid-request", "The request is invalid", detail, extensions: field.map { ["field": $0] } ?? [:])
    }
    static func invalidConfig(_ detail: String, field: String) -> Problem {
        Problem(422, "invalid-config", "The compression config is invalid", detail, extensions: ["field": field])
    }
    static func queueFull(capacity: Int) -> Problem {
        Problem(429, "queue-full", "The job queue is full", "\(capacity) jobs are already waiting; retry after the Retry-After interval.", retryAfter: 5)
    }
    static func conflict(_ detail: String) -> Problem {
        Problem(409, "conflict", "Conflict", detail)
    }
    static func gone(_ detail: String) -> Problem {
        Problem(410, "gone", "No longer available", detail)
    }
    static func storage(_ detail: String) -> Problem {
        Problem(507, "insufficient-storage", "The server could not store the data", detail)
    }
    static func internalError(_ detail: String) -> Problem {
        Problem(500, "internal-error", "Internal error", detail)
    }

    /// Problems the HTTP layer raises itself (parse errors, timeouts, limits).
    static func http(status: Int, detail: String) -> Problem {
        let kind: String = switch status {
        case 400: "malformed-request"
        case 408: "request-timeout"
        case 413: "payload-too-large"
        case 414: "uri-too-long"
        case 431: "headers-too-large"
        case 501: "not-implemented"
        case 503: "overloaded"
        case 505: "http-version-not-supported"
        default: "http-error"
        }
        return Problem(status, kind, HTTPStatusTitle.title(status), detail, retryAfter: status == 503 ? 1 : nil)
    }
}

enum HTTPStatusTitle {
    static func title(_ status: Int) -> String {
        switch status {
        case 400: "Malformed HTTP request"
        case 408: "Request timeout"
        case 413: "Request body too large"
        case 414: "Request target too long"
        case 431: "Request header fields too large"
        case 501: "Not implemented"
        case 503: "Service unavailable"
        case 505: "HTTP version not supported"
        default: "HTTP error"
        }
    }
}
