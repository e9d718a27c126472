import ModelFormats

/// A weight file of a package as the compressor reads it: in place (a stored zip entry or a
/// tar member), or inflating on a thread of its own and read blob by blob as it arrives, so
/// that compressing overlaps inflating.
enum WeightFileSource {
    case ready(CoreMLCompressor.WeightFile)
    case inflating(InflatingEntry)

    /// The weight's blob and its bytes, waiting for them while they are still inflating.
    func blob(for weight: MLProgramWeight) throws -> (MILBlob, UnsafeRawBufferPointer) {
        let blob: MILBlob?
        let file: UnsafeRawBufferPointer
        switch self {
        case .ready(let ready):
            blob = ready.storage.blob(atMetadataOffset: weight.blobOffset)
            file = ready.data.bytes
        case .inflating(let entry):
            // The metadata record first, then the data it points at; offsets past the end wait
            // for the whole file, and the record's own checks refuse them.
            let metadataEnd = min(Int(min(weight.blobOffset, UInt64(entry.byteCount))) + 64, entry.byteCount)
            let head = try entry.bytes(decodedThrough: metadataEnd)
            let found = try? MILBlobStorage.blob(at: weight.blobOffset, in: head)
            blob = found
            file = try found.map { try entry.bytes(decodedThrough: Int($0.dataOffset + $0.byteCount)) } ?? head
        }
        guard let blob, blob.dataType == weight.dataType, blob.elementCount == UInt64(weight.elementCount) else {
            throw Self.noBlob(weight)
        }
        return (blob, UnsafeRawBufferPointer(rebasing: file[blob.dataRange]))
    }

    /// Whether every blob can be read without waiting: read in place, or done inflating.
    var isInMemory: Bool {
        switch self {
        case .ready: true
        case .inflating(let entry): entry.isDone
        }
    }

    /// Waits for decoding to end, however it ends: the archive's bytes it reads from must
    /// outlive it.
    func waitUntilDone() {
        if case .inflating(let entry) = self { entry.waitUntilDone() }
    }

    /// The whole file, verified and parsed; every blob a weight read while it was inflating
    /// must be one the file's own walk finds.
    func finish(fileName: String, weights: [MLProgramWeight]) throws -> CoreMLCompressor.WeightFile {
        switch self {
        case .ready(let file):
            return file
        case .inflating(let entry):
            let file: CoreMLCompressor.WeightFile
            do {
                let data = try entry.finish()
                file = CoreMLCompressor.WeightFile(path: entry.path, data: data, storage: try MILBlobStorage(parsing: data.bytes))
            } catch {
                throw Problem.invalidModel("the weight file '\(fileName)' is invalid: \(error)")
            }
            for weight in weights where weight.fileName == fileName && file.storage.blob(atMetadataOffset: weight.blobOffset) == nil {
                throw Self.noBlob(weight)
            }
            return file
        }
    }

    private static func noBlob(_ weight: MLProgramWeight) -> Problem {
        Problem.invalidModel("weight '\(weight.name)': its blob at offset \(weight.blobOffset) does not hold \(weight.elementCount) \(weight.dataType) values")
    }
}
