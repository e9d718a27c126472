import Foundation
import ModelFormats

extension ServiceContext {
    /// `tenant`'s stored dataset, marked as used (its retention starts again) and opened for
    /// evaluation or calibration; nil when the tenant owns no such dataset. The file was
    /// checked at upload, so failing to open it now is 410 (upload it again).
    func openDataset(_ id: String, tenant: String) throws -> (dataset: StoredDataset, file: DatasetFile)? {
        // Touched first: a retention sweep then no longer counts it as unused.
        guard try store.touchDataset(id, tenant: tenant), let dataset = try store.dataset(id, ownedBy: tenant) else { return nil }
        do {
            return (dataset, try DatasetFile(path: data.dataset(id)))
        } catch {
            logger.error("reading a stored dataset failed", metadata: ["dataset": "\(id)", "error": "\(error)"])
            throw Problem.gone("dataset \(id) is no longer readable (deleted meanwhile?); upload it again")
        }
    }
}
