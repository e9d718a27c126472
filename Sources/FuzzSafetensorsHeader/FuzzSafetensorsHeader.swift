import FuzzReplay
import ModelFormats

/// Fuzzes `SafetensorsHeader` on a whole file and on just the header's bytes of it (as a
/// streamed upload is checked), then checks what a valid header promises `SafetensorsFile`:
/// every tensor lies inside the file and is found by its name.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let file = UnsafeRawBufferPointer(start: data, count: size)
    // A small limit, so the fuzzer reaches it too.
    let limits = SafetensorsHeader.Limits(maxHeaderByteCount: 1 << 16)
    guard let header = try? SafetensorsHeader(parsing: file, fileSize: size, limits: limits) else { return 0 }
    precondition(header.dataStart >= 8 && header.dataStart + header.dataByteCount == size)
    var covered = 0
    for tensor in header.tensors {
        precondition(tensor.dataRange.lowerBound == covered, "tensors do not tile the data buffer")
        covered = tensor.dataRange.upperBound
        let bytes = UnsafeRawBufferPointer(rebasing: file[(header.dataStart + tensor.dataRange.lowerBound)..<(header.dataStart + tensor.dataRange.upperBound)])
        precondition(bytes.count == tensor.byteCount)
        precondition(header.tensor(named: tensor.name)?.dataRange == tensor.dataRange)
    }
    precondition(covered == header.dataByteCount)

    // The same header from only its own bytes, the rest of the file not yet read.
    let headerOnly = try? SafetensorsHeader(parsing: UnsafeRawBufferPointer(rebasing: file[..<header.dataStart]), fileSize: size, limits: limits)
    precondition(headerOnly?.tensors.map(\.name) == header.tensors.map(\.name), "the header parses differently without the data")
    return 0
}

// Built for fuzzing, libFuzzer's main calls `fuzz`.
#if !FUZZING
@main enum ReplayMain {
    static func main() { replayInputs(through: fuzz) }
}
#endif
