/// A safetensors file on disk, memory-mapped and with its header validated, giving zero-copy
/// access to each tensor's bytes.
///
/// A struct rather than the usual `@unchecked Sendable` class: the only unsafe part, the
/// mapping, lives in `MemoryMappedFile`, which justifies its own sendability, and every copy
/// of this value shares that one mapping.
public struct SafetensorsFile: Sendable {
    public let header: SafetensorsHeader
    private let mapping: MemoryMappedFile

    public var path: String { mapping.path }
    /// The file's size in bytes.
    public var byteCount: Int { mapping.byteCount }
    /// Tensors in the order their bytes appear in the file.
    public var tensors: [SafetensorsTensorInfo] { header.tensors }
    public var metadata: [String: String] { header.metadata }

    /// Opens and validates the file. Throws `FileAccessError` when it cannot be read and
    /// `SafetensorsError` when its content is not valid safetensors.
    public init(
        path: String,
        limits: SafetensorsHeader.Limits = SafetensorsHeader.Limits(),
        accessPattern: MemoryMappedFile.AccessPattern = .normal
    ) throws {
        mapping = try MemoryMappedFile(path: path, accessPattern: accessPattern)
        header = try mapping.withBytes { (bytes) throws(SafetensorsError) in
            try SafetensorsHeader(parsing: bytes, fileSize: bytes.count, limits: limits)
        }
    }

    public func tensor(named name: String) -> SafetensorsTensorInfo? {
        header.tensor(named: name)
    }

    /// Calls `body` with the tensor's bytes, in place in the mapping. The buffer is valid only
    /// inside `body`; copy what must outlive it. Its start may be unaligned for the dtype.
    public func withTensorBytes<Result, Failure: Error>(
        _ tensor: SafetensorsTensorInfo, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let dataStart = header.dataStart
        return try mapping.withBytes { (file) throws(Failure) -> Result in
            let range = (dataStart + tensor.dataRange.lowerBound)..<(dataStart + tensor.dataRange.upperBound)
            precondition(range.upperBound <= file.count, "tensor '\(tensor.name)' is not from this file")
            return try body(UnsafeRawBufferPointer(rebasing: file[range]))
        }
    }

    /// Maps the tensor's pages in one call before a pass over all of it (see
    /// `MemoryMappedFile.populatePages`).
    public func populatePages(of tensor: SafetensorsTensorInfo) {
        let start = header.dataStart + tensor.dataRange.lowerBound
        mapping.populatePages(start..<(start + tensor.byteCount))
    }

    /// Lets the kernel drop the tensor's pages from this process's memory once they are done
    /// with; reading the tensor again still works (it is paged back in).
    public func releasePages(of tensor: SafetensorsTensorInfo) {
        let start = header.dataStart + tensor.dataRange.lowerBound
        mapping.releasePages(start..<(start + tensor.byteCount))
    }

    /// Looks the tensor up by name, then calls `body` as `withTensorBytes(_:_:)` does.
    public func withTensorBytes<Result>(
        named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        guard let tensor = header.tensor(named: name) else { throw SafetensorsError.tensorNotFound(name) }
        return try withTensorBytes(tensor, body)
    }
}
