import Estimation
import Foundation
import HTTP

extension APIResponder {
    /// GET /v1/devices: the device catalog the estimators use, every figure with its source.
    func devices() throws -> HTTPResponse {
        HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: .bytes(Array(try service.catalog.json())))
    }

    /// POST /v1/estimate: configs compared on a stored model, in memory; nothing is written.
    func estimate(_ request: HTTPRequest, tenant: String) throws -> HTTPResponse {
        guard case .bytes(let body) = request.body, !body.isEmpty else {
            throw Problem.invalidRequest("send JSON {\"model_id\": …, \"configs\": […] or \"sweep\": \"default\", \"device\": …, \"accuracy_budget\": …}")
        }
        let dict = try JobDocument.parse(body, contentType: request.head.headers["Content-Type"])
        let parsed = try EstimateRequest(dict, catalog: service.catalog)
        guard let modelID = parsed.modelID, !modelID.isEmpty else {
            throw Problem.invalidRequest("model_id is required: the id returned by POST /v1/models", field: "model_id")
        }
        guard let model = try service.store.model(modelID, ownedBy: tenant) else {
            throw Problem.notFound("model \(modelID) does not exist; upload it first with POST /v1/models")
        }
        let measurement = try parsed.datasetID.map { id -> EstimateSweep.Measurement in
            guard let (_, file) = try service.openDataset(id, tenant: tenant) else {
                throw Problem.notFound("dataset \(id) does not exist; upload the samples first with POST /v1/datasets")
            }
            return .init(dataset: file, datasetID: id, scratchDirectory: service.data.tmp,
                         threads: ModelEvaluation.threads(workers: service.config.resolvedWorkers))
        }
        let table = try parsed.sweep.run(model: service.data.model(modelID), format: try StoredModelFormat(stored: model),
                                         candidates: parsed.candidates, measuring: measurement)
        if ContentNegotiation.prefersHTML(request.head.headers["Accept"]) {
            return HTTPResponse(status: 200, headers: ["Content-Type": "text/html; charset=utf-8"], body: .bytes(Array(EstimatePage(table: table).html.utf8)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: .bytes(Array(try encoder.encode(table))))
    }
}
