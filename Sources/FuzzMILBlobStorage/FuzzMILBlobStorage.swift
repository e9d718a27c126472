import FuzzReplay
import ModelFormats

/// Fuzzes `MILBlobStorage` on a whole `weight.bin`, and the single-record read a model's
/// blob reference makes, at the offset the last 8 input bytes name.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let storage = try? MILBlobStorage(parsing: bytes) {
        var end: UInt64 = 64
        for blob in storage.blobs {
            precondition(blob.metadataOffset >= end && blob.dataOffset >= blob.metadataOffset + 64, "blobs overlap")
            end = blob.dataOffset + blob.byteCount
            precondition(blob.dataRange.upperBound <= size, "blob at \(blob.metadataOffset) outside the file")
            precondition(blob.elementCount * UInt64(blob.dataType.bitWidth) <= blob.byteCount * 8)
            precondition(storage.blob(atMetadataOffset: blob.metadataOffset) == blob)
            precondition(try! MILBlobStorage.blob(at: blob.metadataOffset, in: bytes) == blob)
        }
    }
    if size >= 8 {
        let offset = UnsafeRawBufferPointer(rebasing: bytes[(size - 8)...]).loadUnaligned(as: UInt64.self)
        if let blob = try? MILBlobStorage.blob(at: UInt64(littleEndian: offset), in: bytes) {
            precondition(blob.dataRange.upperBound <= size, "blob at \(offset) outside the file")
        }
    }
    return 0
}

// Built for fuzzing, libFuzzer's main calls `fuzz`.
#if !FUZZING
@main enum ReplayMain {
    static func main() { replayInputs(through: fuzz) }
}
#endif
