import FuzzReplay
import ModelFormats

/// Fuzzes `ZipArchive` as an upload is read: the table of contents, then every entry
/// extracted and verified (inflating deflated ones), then the same bytes as an `.mlpackage`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // Limits small enough for the fuzzer to reach, large enough for its packages.
    let limits = ArchiveLimits(maxEntryCount: 64, maxEntryByteCount: 1 << 20, maxTotalByteCount: 1 << 21)
    if let archive = try? ZipArchive(parsing: bytes, limits: limits) {
        for entry in archive.entries {
            precondition(entry.dataRange.upperBound <= size, "entry '\(entry.path)' outside the archive")
            precondition(archive.entry(at: entry.path) == entry)
            if let contents = try? archive.contents(of: entry, in: bytes) {
                precondition(UInt64(contents.count) == entry.uncompressedByteCount)
                if entry.method == .stored {
                    precondition(Array(try! archive.storedBytes(of: entry, in: bytes)) == contents)
                }
            }
        }
    }
    fuzzPackage(bytes, limits: limits)
    return 0
}

/// Opens `bytes` as an uploaded `.mlpackage` and reads every file of it both ways the service
/// does, which must agree.
func fuzzPackage(_ bytes: UnsafeRawBufferPointer, limits: ArchiveLimits) {
    guard let package = try? MLPackageArchive(bytes: bytes, limits: limits) else { return }
    precondition(package.filePaths.contains(package.package.rootModelPath))
    for path in package.filePaths {
        let contents = try? package.contents(of: path, in: bytes)
        let data = try? package.data(of: path, in: bytes)
        precondition(contents == data.map { Array($0.bytes) }, "'\(path)' reads differently in place and copied")
    }
}

// Built for fuzzing, libFuzzer's main calls `fuzz`.
#if !FUZZING
@main enum ReplayMain {
    static func main() { replayInputs(through: fuzz) }
}
#endif
