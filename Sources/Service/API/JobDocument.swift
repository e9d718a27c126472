import Foundation
import Yams

/// The body of `POST /v1/jobs` as a dictionary, from JSON or YAML (so a team's existing
/// coremltools YAML config can be sent as it is).
enum JobDocument {
    static func isYAML(_ contentType: String?) -> Bool {
        guard let t = contentType?.lowercased() else { return false }
        return t.hasPrefix("application/yaml") || t.hasPrefix("application/x-yaml") || t.hasPrefix("text/yaml") || t.hasPrefix("text/x-yaml")
    }

    static func parse(_ body: [UInt8], contentType: String?) throws -> [String: Any] {
        let object: Any?
        if isYAML(contentType) {
            let text = String(decoding: body, as: UTF8.self)
            // Aliases can expand a tiny document into gigabytes ("billion laughs"); configs never need them.
            if text.range(of: #"(^|[\s\[\{,:-])[&*][^\s]"#, options: .regularExpression) != nil {
                throw Problem.invalidRequest("YAML anchors (&name) and aliases (*name) are not accepted in job documents; write the values out")
            }
            do { object = try Yams.load(yaml: text) } catch {
                throw Problem.invalidRequest("the body is not valid YAML: \(error)")
            }
        } else {
            do { object = try JSONSerialization.jsonObject(with: Data(body)) } catch {
                throw Problem.invalidRequest("the body is not valid JSON: \(error.localizedDescription); YAML is accepted with Content-Type: application/yaml")
            }
        }
        guard let dict = object as? [String: Any] else { throw Problem.invalidRequest("the body must be an object (a mapping)") }
        return dict
    }

    /// Whether the document is a coremltools config itself rather than a job wrapping one.
    static func isBareConfig(_ dict: [String: Any]) -> Bool {
        ["config_type", "global_config", "op_type_configs", "op_name_configs"].contains { dict[$0] != nil }
    }
}
