import Foundation
import Testing

/// Every error leaves the service as RFC 9457 problem+json with a type under the catalogue base.
func expectProblem(_ response: HTTPTestResponse, status: Int, _ label: String = "",
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, "\(label): expected \(status), got \(response.status) \(response.text)",
            sourceLocation: sourceLocation)
    #expect(response.header("Content-Type") == "application/problem+json", "\(label): Content-Type \(response.header("Content-Type") ?? "none")",
            sourceLocation: sourceLocation)
    let json = response.json
    let type = json["type"] as? String ?? ""
    #expect(type.hasPrefix("https://quantd.dev/problems/") && type.count > "https://quantd.dev/problems/".count,
            "\(label): type \(type)", sourceLocation: sourceLocation)
    #expect(!(json["detail"] as? String ?? "").isEmpty, "\(label): detail is empty", sourceLocation: sourceLocation)
    #expect(json["status"] as? Int == status, "\(label): status member", sourceLocation: sourceLocation)
}
