/// Why a `weight.bin` is not valid MIL blob storage (v2), or why a blob reference into it is
/// wrong. Problems with the uploaded model (HTTP 422 material).
public enum MILBlobStorageError: Error, Equatable, Sendable, CustomStringConvertible {
    case fileTooSmall(byteCount: Int)
    case unsupportedVersion(UInt32)
    case misalignedMetadata(offset: UInt64)
    case metadataOutsideFile(offset: UInt64, fileSize: Int)
    case badSentinel(offset: UInt64, found: UInt32)
    case unknownDataType(offset: UInt64, code: UInt32)
    case misalignedData(offset: UInt64, dataOffset: UInt64)
    case dataOutsideFile(offset: UInt64, dataOffset: UInt64, byteCount: UInt64, fileSize: Int)
    case inconsistentPadding(offset: UInt64, dataType: MILBlobDataType, byteCount: UInt64, paddingBits: UInt64)
    case sizeNotMultipleOfElement(offset: UInt64, dataType: MILBlobDataType, byteCount: UInt64)
    case countMismatch(declared: UInt32, found: Int)
    case overlappingBlobs(offset: UInt64, previousEnd: UInt64)

    public var description: String {
        switch self {
        case .fileTooSmall(let byteCount):
            "weight file is \(byteCount) bytes; blob storage needs a 64-byte header"
        case .unsupportedVersion(let version):
            "weight file has blob storage version \(version); only version 2 is supported"
        case .misalignedMetadata(let offset):
            "blob at offset \(offset) is not 64-byte aligned"
        case .metadataOutsideFile(let offset, let fileSize):
            "blob metadata at offset \(offset) lies outside the \(fileSize)-byte weight file"
        case .badSentinel(let offset, let found):
            "blob at offset \(offset) has sentinel 0x\(String(found, radix: 16)), not 0xdeadbeef; the offset does not point at a blob"
        case .unknownDataType(let offset, let code):
            "blob at offset \(offset) has unknown data type code \(code)"
        case .misalignedData(let offset, let dataOffset):
            "blob at offset \(offset) puts its data at \(dataOffset), which is not 64-byte aligned"
        case .dataOutsideFile(let offset, let dataOffset, let byteCount, let fileSize):
            "blob at offset \(offset) declares \(byteCount) bytes at \(dataOffset), past the end of the \(fileSize)-byte weight file"
        case .inconsistentPadding(let offset, let dataType, let byteCount, let paddingBits):
            "blob at offset \(offset): \(paddingBits) padding bits do not fit \(byteCount) bytes of \(dataType)"
        case .sizeNotMultipleOfElement(let offset, let dataType, let byteCount):
            "blob at offset \(offset): \(byteCount) bytes is not a whole number of \(dataType) elements"
        case .countMismatch(let declared, let found):
            "weight file header declares \(declared) blobs but \(found) were found"
        case .overlappingBlobs(let offset, let previousEnd):
            "blob at offset \(offset) starts before the previous blob's data ends at \(previousEnd)"
        }
    }
}
