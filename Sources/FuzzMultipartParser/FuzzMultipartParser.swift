import FuzzReplay
import HTTP

/// Fuzzes `MultipartParser` as an upload drives it. The input is a Content-Type value, CRLF,
/// then the body; the body is fed whole, then again in reads whose size the first input byte
/// picks (1 to 64). Both feedings must fail alike or give the same parts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let crlf = bytes.indices.first(where: { bytes[$0] == 0x0D && $0 + 1 < bytes.count && bytes[$0 + 1] == 0x0A }),
          let boundary = MultipartParser.boundary(contentType: String(decoding: bytes[..<crlf], as: UTF8.self))
    else { return 0 }
    let body = bytes[(crlf + 2)...]
    let whole = collect([body], boundary: boundary)
    let readSize = 1 + Int(bytes[0]) % 64
    let reads = stride(from: body.startIndex, to: body.endIndex, by: readSize).map { body[$0..<min($0 + readSize, body.endIndex)] }
    let split = collect(reads, boundary: boundary)
    precondition(split == whole, "reads of \(readSize) bytes give \(String(describing: split)), the whole body \(String(describing: whole))")
    return 0
}

struct Part: Equatable {
    /// `name: value` per field, in order.
    var headers: [String]
    var name: String?
    var filename: String?
    var data: [UInt8] = []
    var ended = false
}

struct Outcome: Equatable {
    var parts: [Part]
    var complete: Bool
}

/// The parts `reads` give, or nil when the parser throws (its messages may differ by feeding).
func collect(_ reads: [ArraySlice<UInt8>], boundary: String) -> Outcome? {
    var parser = MultipartParser(boundary: boundary)
    var parts: [Part] = []
    do {
        for read in reads {
            try read.withUnsafeBytes { buffer in
                try parser.feed(buffer) { event in
                    let open = parts.last.map { !$0.ended } ?? false
                    switch event {
                    case .partStart(let headers):
                        precondition(!open, "a part started inside another")
                        let (name, filename) = MultipartParser.disposition(headers)
                        parts.append(Part(headers: headers.map { "\($0.name): \($0.value)" }, name: name, filename: filename))
                    case .data(let bytes):
                        precondition(open, "data outside a part")
                        precondition(!bytes.isEmpty, "empty data event")
                        parts[parts.count - 1].data += bytes
                    case .partEnd:
                        precondition(open, "a part ended that never started")
                        parts[parts.count - 1].ended = true
                    }
                }
            }
        }
    } catch {
        return nil
    }
    let complete = (try? parser.finish()) != nil
    precondition(complete == parser.isComplete)
    return Outcome(parts: parts, complete: complete)
}

// Built for fuzzing, libFuzzer's main calls `fuzz`.
#if !FUZZING
@main enum ReplayMain {
    static func main() { replayInputs(through: fuzz) }
}
#endif
