import Foundation
import GRDB

public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// One compression job as the store keeps it.
public struct Job: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "jobs"

    public var id: String
    /// The tenant whose token created it; no other tenant can see it.
    public var tenant: String = TokenRegistry.defaultTenant
    public var modelId: String
    public var status: JobStatus
    public var progress: Double
    /// The normalised compression config, as JSON.
    public var config: String
    public var preset: String?
    /// The `minimum_deployment_target` a Core ML job raises the model to, as given ("iOS18").
    public var minimumDeploymentTarget: String?
    /// The `onnx_format` an ONNX job stores MatMul weights in (`qdq`, `matmul_nbits`), as given.
    public var onnxFormat: String? = nil
    /// The dataset whose samples the job's `evaluation` runs both models on, when it asks for one.
    public var evaluationDatasetId: String? = nil
    /// The `activation_config` (normalised, as JSON) when the job quantizes activations.
    public var activationConfig: String? = nil
    /// The `calibration` for it (`dataset_id`, `calibration_method`, `percentile`), as JSON.
    public var calibration: String? = nil
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var error: String?
    /// Bytes of the gzip-compressed artifact once it exists.
    public var artifactBytes: Int64?
    /// The artifact's file name for Content-Disposition, e.g. `model-w8.safetensors`.
    public var artifactName: String?
    /// How the stored artifact is gzipped, once it exists.
    public var artifactEncoding: ArtifactEncoding? = nil
    /// How many times a worker started it (more than 1 after a crash or restart).
    public var attempts: Int
    /// Set when retention removed the artifact and report.
    public var expired: Bool
    /// Bumped on every change; lets readers cache encodings.
    public var revision: Int
    /// The node (`cluster.node_id`) running it, or that ran it last.
    public var node: String? = nil
    /// Until when the node running it holds it; a shared store requeues it after that unless the
    /// node's heartbeat renews it first.
    public var leaseExpiresAt: Date? = nil
    /// A user cancelled it while it ran; the node running it stops it.
    public var cancelRequested: Bool = false

    enum CodingKeys: String, CodingKey {
        case id, tenant, status, progress, config, preset, error, attempts, expired, revision
        case modelId = "model_id", createdAt = "created_at", startedAt = "started_at"
        case finishedAt = "finished_at", artifactBytes = "artifact_bytes", artifactName = "artifact_name"
        case minimumDeploymentTarget = "minimum_deployment_target", onnxFormat = "onnx_format"
        case artifactEncoding = "artifact_encoding", evaluationDatasetId = "evaluation_dataset_id"
        case activationConfig = "activation_config", calibration
        case node, leaseExpiresAt = "lease_expires_at", cancelRequested = "cancel_requested"
    }
}

/// An uploaded model, addressed by the SHA-256 of its bytes.
public struct StoredModel: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "models"

    public var id: String
    public var format: String
    public var bytes: Int64
    public var tensorCount: Int
    public var parameterCount: Int64
    public var createdAt: Date
    public var lastUsedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, format, bytes
        case tensorCount = "tensor_count", parameterCount = "parameter_count"
        case createdAt = "created_at", lastUsedAt = "last_used_at"
    }
}
