import Foundation
import Testing
import Yams
@testable import Service

/// The served document is the repository's openapi.yaml, and it describes exactly the routes
/// the router has.
@Suite("OpenAPI contract")
struct OpenAPIContractTests {
    static let document = Repository.root + "/openapi.yaml"

    /// Every API route, one sample per case. The switch has no default, so a new `Route` case
    /// does not compile until it is added here (and, by the test, to openapi.yaml).
    static let apiRoutes: [Route] = [.health, .ready, .metrics, .openapi, .presets, .devices, .estimate, .uploadModel, .getModel("x"),
                                     .uploadDataset, .listDatasets, .getDataset("x"), .deleteDataset("x"),
                                     .createJob, .listJobs, .getJob("x"), .cancelJob("x"), .artifact("x"), .report("x"), .reportPage("x")]
    static func isAPIRoute(_ route: Route) -> Bool {
        switch route {
        case .health, .ready, .metrics, .openapi, .presets, .devices, .estimate, .uploadModel, .getModel, .createJob, .listJobs,
             .getJob, .cancelJob, .artifact, .report, .reportPage, .uploadDataset, .listDatasets, .getDataset, .deleteDataset: true
        case .methodNotAllowed, .notFound: false
        }
    }

    /// `paths:` keys and the operations under each, by a line scan: path keys are indented
    /// two spaces and start with '/', operations four spaces.
    static func documentedOperations() throws -> [String: Set<String>] {
        let text = try String(contentsOfFile: document, encoding: .utf8)
        var paths: [String: Set<String>] = [:]
        var inPaths = false, current: String?
        for line in text.components(separatedBy: "\n") {
            if !line.hasPrefix(" ") && !line.isEmpty { inPaths = line.hasPrefix("paths:"); current = nil; continue }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), let colon = line.lastIndex(of: ":") {
                let path = String(line[line.index(line.startIndex, offsetBy: 2)..<colon])
                paths[path] = []
                current = path
            } else if let path = current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "head", "post", "put", "patch", "delete"].contains(key) { paths[path]!.insert(key.uppercased()) }
            }
        }
        return paths
    }

    @Test("GET /openapi.yaml returns the repository's openapi.yaml byte for byte")
    func servesTheDocument() throws {
        let server = try TestServer()
        defer { server.stop() }
        let response = try server.get("/openapi.yaml")
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.contains("yaml") == true)
        #expect(response.body == Array(try Data(contentsOf: URL(fileURLWithPath: Self.document))))
    }

    @Test("every Route template is a documented path and every documented path is a Route")
    func routesMatchDocumentedPaths() throws {
        #expect(Self.apiRoutes.allSatisfy(Self.isAPIRoute))
        let documented = try Self.documentedOperations()
        let templates = Set(Self.apiRoutes.map(\.template))
        #expect(templates.count == 16)
        #expect(Set(documented.keys) == templates,
                "only in Route: \(templates.subtracting(documented.keys).sorted()); only in openapi.yaml: \(Set(documented.keys).subtracting(templates).sorted())")
    }

    @Test("every documented operation routes to its own template")
    func documentedOperationsRoute() throws {
        for (path, methods) in try Self.documentedOperations() {
            #expect(!methods.isEmpty, "\(path) documents no operation")
            let concrete = path.replacingOccurrences(of: "{id}", with: "abc123")
            for method in methods {
                let route = Route.match(method: method, path: Substring(concrete))
                #expect(Self.isAPIRoute(route), "\(method) \(path) is documented but routes to \(route)")
                #expect(route.template == path, "\(method) \(path) routes to \(route.template)")
            }
        }
    }

    /// The enums the contract lists are the server's own presets and devices, so a schema-valid
    /// name is always one the server knows.
    @Test func presetAndDeviceEnumsAreTheServersOwn() throws {
        let document = try #require(try Yams.load(yaml: String(contentsOfFile: Self.document, encoding: .utf8)) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let presets = try #require((schemas["PresetName"] as? [String: Any])?["enum"] as? [String])
        #expect(presets == Presets.all.map(\.name))
        let devices = try #require((schemas["DeviceName"] as? [String: Any])?["enum"] as? [String])
        let catalog = try DeviceCatalogFile.load("")
        #expect(Set(devices) == Set(catalog.devices.flatMap { [$0.name, $0.chip] }))
    }
}
