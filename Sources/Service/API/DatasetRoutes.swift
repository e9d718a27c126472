import Foundation
import HTTP
import ModelFormats

extension APIResponder {
    /// Stores a sample dataset under its SHA-256 once its structure, sample count and values
    /// are checked; the 201 is sent once it is fsynced and renamed into place.
    func uploadDataset(_ request: HTTPRequest, tenant: String) throws -> HTTPResponse {
        let sink = try receivedUpload(request, part: "dataset")
        if try service.store.dataset(sink.sha256, ownedBy: tenant) == nil {
            try service.checkStorageQuota(tenant: tenant, adding: Int64(sink.bytesWritten))
        }
        let file = try Self.checkedDataset(at: sink.path, maxSamples: service.config.datasetMaxSamples)
        let now = Date()
        let dataset = StoredDataset(id: sink.sha256, format: file.format.rawValue, bytes: sink.bytesWritten,
                                    signature: file.signature, createdAt: now, lastUsedAt: now)
        let stored = try commit(sink, to: service.data.dataset(dataset.id)) { try service.store.upsertDataset(dataset, tenant: tenant) }
        return json(201, datasetResource(stored), headers: ["Location": "/v1/datasets/\(stored.id)"])
    }

    func getDataset(_ id: String, tenant: String) throws -> HTTPResponse {
        guard let dataset = try service.store.dataset(id, ownedBy: tenant) else { throw Self.noDataset(id) }
        return json(200, datasetResource(dataset))
    }

    /// Ends the tenant's ownership; the file goes with the last owner.
    func deleteDataset(_ id: String, tenant: String) throws -> HTTPResponse {
        try service.storage.withLock { _ in
            guard let orphaned = try service.store.removeDatasetOwner(id, tenant: tenant) else { throw Self.noDataset(id) }
            if orphaned { try? FileManager.default.removeItem(atPath: service.data.dataset(id)) }
        }
        return HTTPResponse(status: 204)
    }

    func listDatasets(_ head: HTTPRequestHead, tenant: String) throws -> HTTPResponse {
        let query = QueryString(head.query)
        var limit = 50
        if let l = query["limit"] {
            guard let n = Int(l), (1...500).contains(n) else { throw Problem.invalidRequest("limit must be 1…500", field: "limit") }
            limit = n
        }
        var before: Int64?
        if let cursor = query["cursor"] {
            guard let position = Int64(cursor), position > 0 else {
                throw Problem.invalidRequest("cursor must be the next_cursor of the previous page", field: "cursor")
            }
            before = position
        }
        let datasets = try service.store.datasets(ownedBy: tenant, before: before, limit: limit + 1)
        let page = datasets.prefix(limit)
        let next: Any = datasets.count > limit ? String(page.last!.sequence) : NSNull()
        return json(200, ["datasets": page.map(datasetResource), "next_cursor": next])
    }

    /// The upload opened as a dataset and held to `datasets.max_samples`, its values read.
    static func checkedDataset(at path: String, maxSamples: Int) throws -> DatasetFile {
        do {
            let file = try DatasetFile(path: path)
            let samples = file.signature.sampleCount
            guard samples <= maxSamples else {
                throw Problem.invalidDataset("the dataset holds \(samples) samples, over the limit of \(maxSamples) (datasets.max_samples); send at most \(maxSamples)")
            }
            try file.checkFinite()
            return file
        } catch let error as DatasetFileError {
            throw error.isUnsupportedFormat ? Problem.unsupportedDatasetFormat(error.description) : Problem.invalidDataset(error.description)
        }
    }

    private static func noDataset(_ id: String) -> Problem {
        Problem.notFound("dataset \(id) does not exist (or retention removed it); upload it with POST /v1/datasets")
    }

    func datasetResource(_ d: StoredDataset) -> [String: Any] {
        let hours = service.config.datasetRetentionHours
        let expires: Any = hours > 0 ? Timestamp.string(d.lastUsedAt.addingTimeInterval(hours * 3600)) : NSNull()
        return ["id": d.id, "sha256": d.id, "format": d.format, "bytes": d.bytes, "samples": d.sampleCount,
                "arrays": d.signature.arrays.map { ["name": $0.name, "dtype": $0.elementType.rawValue, "shape": $0.shape] as [String: Any] },
                "created_at": Timestamp.string(d.createdAt), "expires_at": expires,
                "links": ["self": "/v1/datasets/\(d.id)"]]
    }
}
