import Execution

extension MLPackageArchive {
    /// `model`'s execution graph, its weights read from this archive's weight files (each one
    /// read, and validated as blob storage, the first time a blob of it is needed). `bytes` must
    /// be the archive this was opened from.
    public func executionGraph(of model: MLProgramModel, in bytes: UnsafeRawBufferPointer) throws(ExecutionError) -> ExecutionGraph {
        var files: [String: (data: EntryData, storage: MILBlobStorage)] = [:]
        return try model.executionGraph { (fileName, offset) throws(MLProgramError) in
            if files[fileName] == nil {
                do {
                    let (path, _) = try package.resolve(fileName)
                    let data = try data(of: path, in: bytes)
                    files[fileName] = (data, try MILBlobStorage(parsing: data.bytes))
                } catch {
                    throw .malformed("the weight file '\(fileName)': \(error)")
                }
            }
            let file = files[fileName]!
            guard let blob = file.storage.blob(atMetadataOffset: offset) else { throw .missingBlob(fileName: fileName, offset: offset) }
            return (blob, UnsafeRawBufferPointer(rebasing: file.data.bytes[blob.dataRange]))
        }
    }
}
