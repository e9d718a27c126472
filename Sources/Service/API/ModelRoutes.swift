import Foundation
import Glibc
import HTTP
import ModelFormats

extension APIResponder {
    func uploadModel(_ request: HTTPRequest, tenant: String) throws -> HTTPResponse {
        let header = try IdempotencyKey.validated(request.head.headers["Idempotency-Key"])
        // Uploads are content-addressed, so the same bytes are the same model anyway; the key
        // catches a pipeline that reuses one for different bytes.
        let key = { (sha256: String) in
            header.map { IdempotencyKey(tenant: tenant, operation: .uploadModel, key: $0, request: [sha256]) }
        }
        let model = try ingest(request, tenant: tenant, before: { sha256 in
            if let key = key(sha256), let earlier = try service.store.idempotencyRecord(key) { _ = try earlier.replay(of: key) }
        })
        var replayed = false
        if let key = key(model.id), let earlier = try service.store.recordIdempotency(key, resourceID: model.id) {
            _ = try earlier.replay(of: key)
            replayed = true
        }
        var headers: HTTPHeaders = ["Location": "/v1/models/\(model.id)"]
        if replayed { headers.set("Idempotent-Replayed", "true") }
        return json(201, modelResource(model), headers: headers)
    }

    func getModel(_ id: String, tenant: String) throws -> HTTPResponse {
        guard let model = try service.store.model(id, ownedBy: tenant) else {
            throw Problem.notFound("model \(id) does not exist (or retention removed it); upload it with POST /v1/models")
        }
        return json(200, modelResource(model))
    }

    /// Validates a streamed upload and stores it under its SHA-256, durably: the 201 is only
    /// sent once the bytes are fsynced and renamed into place.
    /// `before` sees the upload's SHA-256 before anything is stored, and may refuse it.
    func ingest(_ request: HTTPRequest, tenant: String, before: (String) throws -> Void = { _ in }) throws -> StoredModel {
        let sink = try receivedUpload(request, part: "model")
        do { try before(sink.sha256) } catch {
            sink.abort()
            throw error
        }
        if try service.store.model(sink.sha256, ownedBy: tenant) == nil {
            do { try service.checkStorageQuota(tenant: tenant, adding: Int64(sink.bytesWritten)) } catch {
                sink.abort()
                throw error
            }
        }
        let format: StoredModelFormat
        let inventory: (tensors: Int, parameters: Int64)
        do {
            format = try StoredModelFormat.detect(path: sink.path, size: Int(sink.bytesWritten))
            inventory = try format.adapter(path: sink.path, packages: service.packages, modelID: sink.sha256).inventory()
        } catch let problem as Problem {
            sink.abort()
            throw problem
        } catch {
            sink.abort()
            service.logger.error("reading back an upload failed", metadata: ["error": "\(error)"])
            throw Problem.storage("the upload could not be read back; the error was logged")
        }
        let now = Date()
        let model = StoredModel(id: sink.sha256, format: format.rawValue, bytes: sink.bytesWritten,
                                tensorCount: inventory.tensors, parameterCount: inventory.parameters,
                                createdAt: now, lastUsedAt: now)
        return try commit(sink, to: service.data.model(model.id)) { try service.store.upsertModel(model, tenant: tenant) }
    }

    /// The streamed upload, written and hashed in full; a bodiless or empty one is refused.
    func receivedUpload(_ request: HTTPRequest, part: String) throws -> UploadSink {
        guard case .streamed(let any) = request.body, let sink = any as? UploadSink else {
            throw Problem.invalidRequest("the request has no body; send the \(part) file with curl -T FILE or -F \(part)=@FILE")
        }
        do { try sink.awaitStored() } catch {
            sink.abort()
            throw error
        }
        guard sink.bytesWritten > 0 else {
            sink.abort()
            throw Problem.invalidRequest("the uploaded \(part) is empty")
        }
        return sink
    }

    /// Makes the checked upload durable at its content-addressed `destination` (or drops it
    /// when those bytes are there already) and records it, both under the storage lock, so
    /// retention or a delete never removes a file an answered request relies on.
    func commit<Record>(_ sink: UploadSink, to destination: String, record: () throws -> Record) throws -> Record {
        try sink.sync()
        return try service.storage.withLock { _ in
            if FileManager.default.fileExists(atPath: destination) {
                sink.abort()
            } else {
                try sink.commit(to: destination)
                DataDirectory.syncDirectory(of: destination)
            }
            return try record()
        }
    }

    func modelResource(_ m: StoredModel) -> [String: Any] {
        ["id": m.id, "format": m.format, "sha256": m.id, "bytes": m.bytes, "tensor_count": m.tensorCount,
         "parameter_count": m.parameterCount, "created_at": Timestamp.string(m.createdAt),
         "links": ["self": "/v1/models/\(m.id)"]]
    }
}

enum Timestamp {
    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
