import FuzzReplay
import HTTP

/// Fuzzes `HTTPRequestParser` the way a connection drives it: the input is a byte stream fed
/// whole, then again in reads whose size the first byte picks (1 to 64, so byte by byte too).
/// Both feedings must give the same requests, bodies and error status, and every step must
/// keep the parser's contract (what `HTTPConnection` relies on).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = feed([bytes[...]])
    let readSize = 1 + Int(bytes.first ?? 0) % 64
    let reads = stride(from: 0, to: bytes.count, by: readSize).map { bytes[$0..<min($0 + readSize, bytes.count)] }
    let split = feed(reads)
    precondition(split == whole, "reads of \(readSize) bytes give \(split), the whole input \(whole)")
    return 0
}

/// One request as the parser reported it.
struct ParsedRequest: Equatable {
    var head: HTTPRequestHead
    var body: [UInt8] = []
    var ended = false
}

struct Outcome: Equatable {
    var requests: [ParsedRequest] = []
    var errorStatus: Int?
    /// Bytes handed over but never consumed; only meaningful without an error.
    var unconsumed = 0
}

/// Keeps unconsumed bytes, appends each read and calls `parse` until it asks for more, as
/// `HTTPConnection` does.
func feed(_ reads: [ArraySlice<UInt8>]) -> Outcome {
    // Small limits, so inputs of a few kilobytes reach every limit check.
    var limits = HTTPRequestParser.Limits()
    limits.maxHeaderBytes = 1024
    limits.maxHeaderCount = 16
    limits.maxRequestLineBytes = 256
    limits.maxChunkLineBytes = 64
    var parser = HTTPRequestParser(limits: limits)
    var pending: [UInt8] = []
    var outcome = Outcome()
    for read in reads {
        pending += read
        // Every step consumes bytes or reports an event, and `.end` follows at most one other step.
        var stepsLeft = 2 * pending.count + 4
        while true {
            stepsLeft -= 1
            precondition(stepsLeft >= 0, "the parser stopped making progress")
            let result = pending.withUnsafeBytes { buffer in
                Result { () throws(HTTPParseError) in try parser.parse(buffer) }
            }
            let step: HTTPRequestParser.Step
            switch result {
            case .success(let s): step = s
            case .failure(let error):
                outcome.errorStatus = error.status
                return outcome
            }
            precondition(step.consumed >= 0 && step.consumed <= pending.count, "consumed \(step.consumed) of \(pending.count)")
            let open = outcome.requests.last.map { !$0.ended } ?? false
            switch step.event {
            case .head(let head)?:
                precondition(!open, "a head before the previous request ended")
                precondition(!head.method.isEmpty && !head.target.isEmpty)
                _ = (head.path, head.query, head.keepAlive)
                outcome.requests.append(ParsedRequest(head: head))
            case .body(let range)?:
                precondition(open, "body outside a request")
                precondition(range.lowerBound >= 0 && range.upperBound <= step.consumed, "body \(range) outside consumed \(step.consumed)")
                outcome.requests[outcome.requests.count - 1].body += pending[range]
            case .end?:
                precondition(open, ".end outside a request")
                precondition(step.consumed == 0, ".end consumed bytes")
                outcome.requests[outcome.requests.count - 1].ended = true
            case nil:
                break
            }
            pending.removeFirst(step.consumed)
            if step.consumed == 0 && step.event == nil { break }
        }
    }
    outcome.unconsumed = pending.count
    return outcome
}

// Built for fuzzing, libFuzzer's main calls `fuzz`.
#if !FUZZING
@main enum ReplayMain {
    static func main() { replayInputs(through: fuzz) }
}
#endif
