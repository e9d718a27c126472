import Foundation
import HTTP
import QuantCore

extension APIResponder {
    func ready() -> HTTPResponse {
        let problems = service.readinessProblems()
        if problems.isEmpty { return json(200, ["status": "ready"]) }
        return Problem(503, "not-ready", "Not ready", problems.joined(separator: "; "), retryAfter: 1).response
    }

    func openapi() -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "application/yaml", body: service.openapiDocument)
    }

    func presets() -> HTTPResponse {
        json(200, ["presets": Presets.all.map { ["name": $0.name, "summary": $0.summary, "config": $0.config.value] }])
    }
}
