import Foundation

/// The requests an `Idempotency-Key` header makes safe to retry.
enum IdempotentOperation: String, Sendable {
    case createJob = "create_job"
    case uploadModel = "upload_model"
}

/// A client's `Idempotency-Key` for one request: the same key with the same request is the same
/// resource (across retries and nodes); with a different request it is a mistake (422).
struct IdempotencyKey: Sendable, Equatable {
    var tenant: String
    var operation: IdempotentOperation
    var key: String
    /// SHA-256 of what makes two requests the same request.
    var fingerprint: String

    init(tenant: String, operation: IdempotentOperation, key: String, request parts: [String], body: [UInt8] = []) {
        self.tenant = tenant
        self.operation = operation
        self.key = key
        let hasher = SHA256Hasher()
        for part in parts {
            Array(part.utf8).withUnsafeBytes(hasher.update)
            [UInt8(0)].withUnsafeBytes(hasher.update)
        }
        body.withUnsafeBytes(hasher.update)
        fingerprint = hasher.finalize()
    }

    /// The header's value: 1–255 visible ASCII characters, as the IETF draft's examples use.
    static func validated(_ header: String?) throws -> String? {
        guard let header else { return nil }
        guard !header.isEmpty, header.utf8.count <= 255, header.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw Problem.invalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is ideal)",
                                         field: "Idempotency-Key")
        }
        return header
    }
}

/// What a key was first used for.
struct IdempotencyRecord: Sendable, Equatable {
    var fingerprint: String
    var resourceID: String

    /// The earlier resource when `key` is the same request again; a 422 when it is another one.
    func replay(of key: IdempotencyKey) throws -> String {
        guard fingerprint == key.fingerprint else {
            throw Problem(422, "idempotency-key-reused", "Idempotency-Key reused for a different request",
                          "Idempotency-Key '\(key.key)' was first sent with a different request (it made \(resourceID)); use a new key for a new request",
                          extensions: ["field": "Idempotency-Key", "resource": resourceID])
        }
        return resourceID
    }
}
