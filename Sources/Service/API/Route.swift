/// The API, one case per operation; `match` is the routing table in one place.
enum Route: Equatable {
    case health, ready, metrics, openapi
    case presets, devices, estimate
    case uploadModel, getModel(String)
    case uploadDataset, listDatasets
    case getDataset(String), deleteDataset(String)
    case createJob, listJobs
    case getJob(String), cancelJob(String)
    case artifact(String), report(String)
    /// The report as one HTML page (also `report` with `Accept: text/html`).
    case reportPage(String)
    /// The path exists but not with this method.
    case methodNotAllowed(allowed: [String])
    case notFound

    /// The route template, as a low-cardinality metrics label.
    var template: String {
        switch self {
        case .health: "/healthz"
        case .ready: "/readyz"
        case .metrics: "/metrics"
        case .openapi: "/openapi.yaml"
        case .presets: "/v1/presets"
        case .devices: "/v1/devices"
        case .estimate: "/v1/estimate"
        case .uploadModel: "/v1/models"
        case .getModel: "/v1/models/{id}"
        case .uploadDataset, .listDatasets: "/v1/datasets"
        case .getDataset, .deleteDataset: "/v1/datasets/{id}"
        case .createJob, .listJobs: "/v1/jobs"
        case .getJob, .cancelJob: "/v1/jobs/{id}"
        case .artifact: "/v1/jobs/{id}/artifact"
        case .report: "/v1/jobs/{id}/report"
        case .reportPage: "/v1/jobs/{id}/report.html"
        case .methodNotAllowed: "method-not-allowed"
        case .notFound: "not-found"
        }
    }

    var requiresAuthentication: Bool {
        switch self {
        case .health, .ready, .metrics, .openapi, .notFound, .methodNotAllowed: false
        default: true
        }
    }

    static func match(method: String, path: Substring) -> Route {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let readMethods = ["GET", "HEAD"]
        func only(_ methods: [String], _ route: Route) -> Route {
            methods.contains(method) ? route : .methodNotAllowed(allowed: methods)
        }
        switch segments.count {
        case 1:
            switch segments[0] {
            case "healthz": return only(readMethods, .health)
            case "readyz": return only(readMethods, .ready)
            case "metrics": return only(readMethods, .metrics)
            case "openapi.yaml": return only(readMethods, .openapi)
            default: return .notFound
            }
        case 2 where segments[0] == "v1":
            switch segments[1] {
            case "presets": return only(readMethods, .presets)
            case "devices": return only(readMethods, .devices)
            case "estimate": return only(["POST"], .estimate)
            case "models": return only(["POST"], .uploadModel)
            case "datasets":
                if method == "POST" { return .uploadDataset }
                return only(readMethods + ["POST"], .listDatasets)
            case "jobs":
                if method == "POST" { return .createJob }
                return only(readMethods + ["POST"], .listJobs)
            default: return .notFound
            }
        case 3 where segments[0] == "v1":
            let id = String(segments[2])
            switch segments[1] {
            case "models": return only(readMethods, .getModel(id))
            case "datasets":
                if method == "DELETE" { return .deleteDataset(id) }
                return only(readMethods + ["DELETE"], .getDataset(id))
            case "jobs":
                if method == "DELETE" { return .cancelJob(id) }
                return only(readMethods + ["DELETE"], .getJob(id))
            default: return .notFound
            }
        case 4 where segments[0] == "v1" && segments[1] == "jobs":
            let id = String(segments[2])
            switch segments[3] {
            case "artifact": return only(readMethods, .artifact(id))
            case "report": return only(readMethods, .report(id))
            case "report.html": return only(readMethods, .reportPage(id))
            default: return .notFound
            }
        default:
            return .notFound
        }
    }
}
