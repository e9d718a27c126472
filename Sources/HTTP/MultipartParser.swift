/// Streaming `multipart/form-data` parser (RFC 7578 / RFC 2046 §5.1): bytes in, part events
/// out, so an uploaded file part goes to disk without the body being held in memory.
public struct MultipartParser: Sendable {
    public enum Event {
        case partStart(HTTPHeaders)
        /// Part content; the pointer is valid only during the callback.
        case data(UnsafeRawBufferPointer)
        case partEnd
    }

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// `start` is only the very beginning of the body, where the first delimiter may lack its CRLF.
    private enum State { case start, preamble, headers, data, afterDelimiter, epilogue }

    /// `\r\n--boundary`; the very first delimiter may lack the leading CRLF.
    private let delimiter: [UInt8]
    private var state = State.start
    private var carry: [UInt8] = []
    private static let maxPartHeaderBytes = 16 * 1024

    /// Extracts the boundary parameter of a `multipart/form-data` Content-Type.
    public static func boundary(contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingSpaces() }
        guard let type = parts.first, type.lowercased() == "multipart/form-data" else { return nil }
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingSpaces().lowercased() == "boundary" else { continue }
            var v = kv[1].trimmingSpaces()
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = v.dropFirst().dropLast() }
            return (1...70).contains(v.count) ? String(v) : nil
        }
        return nil
    }

    /// The `name` and `filename` parameters of a part's Content-Disposition.
    public static func disposition(_ headers: HTTPHeaders) -> (name: String?, filename: String?) {
        guard let cd = headers["Content-Disposition"] else { return (nil, nil) }
        var name: String?, filename: String?
        for p in cd.split(separator: ";").dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            var v = kv[1].trimmingSpaces()
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = v.dropFirst().dropLast() }
            switch kv[0].trimmingSpaces().lowercased() {
            case "name": name = String(v)
            case "filename": filename = String(v)
            default: break
            }
        }
        return (name, filename)
    }

    public init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    /// True once the closing delimiter has been seen.
    public var isComplete: Bool { state == .epilogue }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ handle: (Event) throws -> Void) throws {
        if carry.isEmpty {
            try process(bytes, handle)
        } else {
            let joined = carry + bytes
            carry.removeAll()
            try joined.withUnsafeBytes { try process($0, handle) }
        }
    }

    /// Call when the body ended: fails if the closing delimiter never came.
    public func finish() throws {
        guard state == .epilogue else { throw Failure(description: "the multipart body ended before its closing boundary") }
    }

    private mutating func process(_ input: UnsafeRawBufferPointer, _ handle: (Event) throws -> Void) throws {
        var i = 0
        let n = input.count
        while i < n {
            switch state {
            case .start:
                // The body may start directly with "--boundary" (no CRLF before the first one).
                let first = delimiter[2...]
                if n - i < first.count { carry = Array(input[i...]); return }
                if input[i..<(i + first.count)].elementsEqual(first) {
                    i += first.count
                    state = .afterDelimiter
                } else {
                    state = .preamble
                }
            case .preamble:
                guard let at = find(input, from: i) else {
                    carry = Array(input[max(i, n - delimiter.count + 1)...])
                    return
                }
                i = at + delimiter.count
                state = .afterDelimiter
            case .afterDelimiter:
                // RFC 2046 §5.1.1 allows transport padding (spaces, tabs) after a boundary.
                if input[i] == 0x20 || input[i] == 0x09 {
                    i += 1
                    continue
                }
                if n - i < 2 { carry = Array(input[i...]); return }
                if input[i] == 0x2D, input[i + 1] == 0x2D {
                    state = .epilogue
                    i = n
                } else if input[i] == 0x0D, input[i + 1] == 0x0A {
                    state = .headers
                    i += 2
                } else {
                    throw Failure(description: "malformed multipart delimiter line")
                }
            case .headers:
                // Measured without the empty line, of which a CR may already be in while incomplete.
                guard let end = findHeaderEnd(input, from: i) else {
                    if n - i > Self.maxPartHeaderBytes + 1 { throw Failure(description: "multipart part headers exceed 16 KiB") }
                    carry = Array(input[i...])
                    return
                }
                if end - i > Self.maxPartHeaderBytes { throw Failure(description: "multipart part headers exceed 16 KiB") }
                var headers = HTTPHeaders()
                var lineStart = i
                while lineStart < end {
                    var lf = lineStart
                    while input[lf] != 0x0A { lf += 1 }
                    guard lf > lineStart, input[lf - 1] == 0x0D else {
                        throw Failure(description: "multipart part header line ends in a bare LF")
                    }
                    let line = UnsafeRawBufferPointer(rebasing: input[lineStart..<(lf - 1)])
                    do {
                        let (name, value) = try HTTPRequestParser.parseField(line)
                        headers.add(name, value)
                    } catch {
                        throw Failure(description: "malformed multipart part header: \(error.reason)")
                    }
                    lineStart = lf + 1
                }
                try handle(.partStart(headers))
                i = end + 2
                state = .data
            case .data:
                if let at = find(input, from: i) {
                    if at > i { try handle(.data(UnsafeRawBufferPointer(rebasing: input[i..<at]))) }
                    try handle(.partEnd)
                    i = at + delimiter.count
                    state = .afterDelimiter
                } else {
                    // Keep back a tail that could be the start of a delimiter split across reads.
                    var keep = 0
                    let maxKeep = min(delimiter.count - 1, n - i)
                    for k in stride(from: maxKeep, to: 0, by: -1) where input[(n - k)..<n].elementsEqual(delimiter[0..<k]) {
                        keep = k
                        break
                    }
                    if n - keep > i { try handle(.data(UnsafeRawBufferPointer(rebasing: input[i..<(n - keep)]))) }
                    if keep > 0 { carry = Array(input[(n - keep)...]) }
                    return
                }
            case .epilogue:
                return
            }
        }
    }

    /// First index of the delimiter at or after `from`.
    private func find(_ input: UnsafeRawBufferPointer, from: Int) -> Int? {
        let d0 = delimiter[0], count = delimiter.count
        var i = from
        while i + count <= input.count {
            guard let p = input[i...].firstIndex(of: d0) else { return nil }
            if p + count > input.count { return nil }
            if input[p..<(p + count)].elementsEqual(delimiter) { return p }
            i = p + 1
        }
        return nil
    }

    /// Index of the CRLF that ends the part's header block (the empty line's CR).
    private func findHeaderEnd(_ input: UnsafeRawBufferPointer, from: Int) -> Int? {
        if input.count - from >= 2, input[from] == 0x0D, input[from + 1] == 0x0A { return from }
        var i = from
        while i + 3 < input.count {
            if input[i] == 0x0D, input[i + 1] == 0x0A, input[i + 2] == 0x0D, input[i + 3] == 0x0A { return i + 2 }
            i += 1
        }
        return nil
    }
}
