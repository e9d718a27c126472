import FuzzReplay
import ModelFormats

/// Fuzzes `TarArchive` as an upload is read: its entries, then the same bytes as an
/// `.mlpackage` (which reads anything not starting like a zip as a tar).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // Limits small enough for the fuzzer to reach.
    let limits = ArchiveLimits(maxEntryCount: 64, maxEntryByteCount: 1 << 20, maxTotalByteCount: 1 << 21)
    if let archive = try? TarArchive(parsing: bytes, limits: limits) {
        for entry in archive.entries {
            precondition(entry.dataRange.lowerBound >= 512 && entry.dataRange.upperBound <= size, "entry '\(entry.path)' outside the archive")
            precondition(!entry.isDirectory || entry.dataRange.isEmpty)
            precondition(archive.entry(at: entry.path) == entry)
        }
    }
    if let package = try? MLPackageArchive(bytes: bytes, limits: limits) {
        precondition(package.filePaths.contains(package.package.rootModelPath))
        for path in package.filePaths {
            let contents = try? package.contents(of: path, in: bytes)
            let data = try? package.data(of: path, in: bytes)
            precondition(contents != nil && contents == data.map { Array($0.bytes) }, "'\(path)' reads differently in place and copied")
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
