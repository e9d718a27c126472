import Execution
import Foundation
import GRDB

/// A stored sample dataset as one tenant owns it: the file's description (shared by every
/// owner of the same bytes) with that tenant's own dates.
public struct StoredDataset: Sendable, Equatable, FetchableRecord {
    /// The SHA-256 of the bytes.
    public var id: String
    /// `npz` or `safetensors` (`DatasetFile.Format`).
    public var format: String
    public var bytes: Int64
    public var signature: DatasetSignature
    /// When this tenant first uploaded it.
    public var createdAt: Date
    /// When this tenant last uploaded or used it: retention counts from here.
    public var lastUsedAt: Date
    /// The ownership's position in upload order: the list's cursor.
    var sequence: Int64

    public var sampleCount: Int { signature.sampleCount }

    public init(id: String, format: String, bytes: Int64, signature: DatasetSignature, createdAt: Date, lastUsedAt: Date) {
        self.id = id
        self.format = format
        self.bytes = bytes
        self.signature = signature
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        sequence = 0
    }

    /// From a `datasets` row joined with its `dataset_owners` row.
    public init(row: Row) throws {
        id = row["id"]
        format = row["format"]
        bytes = row["bytes"]
        signature = try Self.decodeArrays(row["arrays"])
        createdAt = row["created_at"]
        lastUsedAt = row["last_used_at"]
        sequence = row["seq"]
    }

    /// The `arrays` column: `[{"name", "dtype", "shape"}]`, as the API shows them.
    private struct ArrayColumn: Codable {
        var name: String
        var dtype: String
        var shape: [Int]
    }

    static func encodeArrays(_ signature: DatasetSignature) throws -> String {
        let columns = signature.arrays.map { ArrayColumn(name: $0.name, dtype: $0.elementType.rawValue, shape: $0.shape) }
        return String(decoding: try JSONEncoder().encode(columns), as: UTF8.self)
    }

    static func decodeArrays(_ text: String) throws -> DatasetSignature {
        let columns = try JSONDecoder().decode([ArrayColumn].self, from: Data(text.utf8))
        return DatasetSignature(arrays: try columns.map { column in
            guard let type = DatasetElementType(rawValue: column.dtype) else {
                throw DatabaseError(message: "dataset array '\(column.name)' has an unknown dtype '\(column.dtype)'")
            }
            return DatasetSignature.ArrayInfo(name: column.name, elementType: type, shape: column.shape)
        })
    }
}
