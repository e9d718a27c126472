/// A strict, pull-style JSON reader over raw bytes (RFC 8259).
///
/// Model headers are read field by field into typed values, so there is no intermediate
/// document tree: 200 k tensor entries parse without allocating a dictionary per entry, and
/// the caller sees every object key in order, which is what makes duplicate keys detectable.
struct JSONScanner {
    /// The kinds of JSON value, named the way an error message mentions them.
    enum ValueKind: String, Sendable {
        case object = "an object"
        case array = "an array"
        case string = "a string"
        case number = "a number"
        case boolean = "a boolean"
        case null = "null"
    }

    /// A number as written; `exactInteger` is nil when it has a fraction or exponent or
    /// does not fit in `Int`, because model headers only ever hold integers.
    struct Number {
        /// Points into the scanned bytes, so the text is made only when an error message needs it.
        let literalBytes: UnsafeRawBufferPointer
        let exactInteger: Int?

        var literal: String { String(decoding: literalBytes, as: UTF8.self) }
    }

    private let bytes: UnsafeRawBufferPointer
    /// Byte offset of the next unread byte; errors report it so a user can find the spot.
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset == bytes.count }
    var byteCount: Int { bytes.count }

    /// The kind of the next value, or nil when the next byte cannot start a value.
    mutating func peekValueKind() -> ValueKind? {
        skipWhitespace()
        guard let byte = peek() else { return nil }
        switch byte {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .boolean
        case UInt8(ascii: "n"): return .null
        default: return nil
        }
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            offset += 1
        }
    }

    // MARK: Objects and arrays

    /// Consumes `{`; follow with `nextMemberKey()` until it returns nil.
    mutating func beginObject() throws(JSONSyntaxError) {
        skipWhitespace()
        try consume(UInt8(ascii: "{"), expecting: "'{'")
        pendingFirst = true
    }

    /// Reads `"key":` of the next member (consuming the separating comma), or consumes the
    /// closing `}` and returns nil. The caller must read the member's value before calling again.
    mutating func nextMemberKey() throws(JSONSyntaxError) -> String? {
        guard try continueContainer(closing: UInt8(ascii: "}")) else { return nil }
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else {
            throw error("expected a string key")
        }
        let key = try readString()
        skipWhitespace()
        try consume(UInt8(ascii: ":"), expecting: "':' after object key")
        return key
    }

    /// Consumes `[`; follow with `hasNextElement()` until it returns false.
    mutating func beginArray() throws(JSONSyntaxError) {
        skipWhitespace()
        try consume(UInt8(ascii: "["), expecting: "'['")
        pendingFirst = true
    }

    /// True when another element follows (the separating comma is consumed); false once
    /// the closing `]` has been consumed.
    mutating func hasNextElement() throws(JSONSyntaxError) -> Bool {
        try continueContainer(closing: UInt8(ascii: "]"))
    }

    /// Set after an opening bracket so the first element needs no comma. Nested containers
    /// are safe because a nested `begin…` always runs after its parent consumed its separator.
    private var pendingFirst = false

    private mutating func continueContainer(closing: UInt8) throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        if peek() == closing {
            offset += 1
            pendingFirst = false
            return false
        }
        if pendingFirst {
            pendingFirst = false
            return true
        }
        try consume(UInt8(ascii: ","), expecting: "',' or '\(Character(Unicode.Scalar(closing)))'")
        skipWhitespace()
        if peek() == closing {
            throw error("trailing comma before '\(Character(Unicode.Scalar(closing)))'")
        }
        return true
    }

    // MARK: Scalars

    /// Reads a string literal, decoding escapes and validating UTF-8.
    mutating func readString() throws(JSONSyntaxError) -> String {
        skipWhitespace()
        try consume(UInt8(ascii: "\""), expecting: "'\"'")
        let start = offset
        // Fast path: most keys and values have no escapes, so the bytes can be validated in place.
        while let byte = peek() {
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
                offset += 1
                return try decodeUTF8(raw, at: start)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("unescaped control character in string") }
            offset += 1
        }
        guard !isAtEnd else { throw error("unterminated string") }
        var decoded = Array(bytes[start..<offset])
        while let byte = peek() {
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try decodeUTF8(decoded.withUnsafeBytes { $0 }, at: start)
            case UInt8(ascii: "\\"):
                try readEscape(into: &decoded)
            case ..<0x20:
                offset -= 1
                throw error("unescaped control character in string")
            default:
                decoded.append(byte)
            }
        }
        throw error("unterminated string")
    }

    /// Reads a number literal per the JSON grammar (no leading '+', zeros, or bare '.').
    mutating func readNumber() throws(JSONSyntaxError) -> Number {
        skipWhitespace()
        let start = offset
        let isNegative = peek() == UInt8(ascii: "-")
        if isNegative { offset += 1 }
        // Accumulated while scanning; nil once the magnitude no longer fits.
        var magnitude: Int? = 0
        if peek() == UInt8(ascii: "0") {
            offset += 1
        } else {
            let digitsStart = offset
            while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if let value = magnitude {
                    let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                    magnitude = overflow1 || overflow2 ? nil : sum
                }
                offset += 1
            }
            guard offset > digitsStart else { throw error("invalid number") }
        }
        if peek() == UInt8(ascii: ".") {
            offset += 1
            magnitude = nil
            guard skipDigits() > 0 else { throw error("invalid number: digits must follow '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            offset += 1
            magnitude = nil
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { offset += 1 }
            guard skipDigits() > 0 else { throw error("invalid number: digits must follow the exponent") }
        }
        return Number(
            literalBytes: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]),
            exactInteger: magnitude.map { isNegative ? -$0 : $0 })
    }

    /// Reads and discards one value of any kind, for members a reader does not use. Nesting is
    /// capped so a hostile document cannot exhaust the stack.
    mutating func skipValue(depth: Int = 0) throws(JSONSyntaxError) {
        guard depth < 64 else { throw error("values nested more than 64 deep") }
        switch peekValueKind() {
        case .object:
            try beginObject()
            while try nextMemberKey() != nil { try skipValue(depth: depth + 1) }
        case .array:
            try beginArray()
            while try hasNextElement() { try skipValue(depth: depth + 1) }
        case .string:
            _ = try readString()
        case .number:
            _ = try readNumber()
        case .boolean, .null:
            let literal = peek() == UInt8(ascii: "t") ? "true" : peek() == UInt8(ascii: "f") ? "false" : "null"
            for byte in literal.utf8 { try consume(byte, expecting: "'\(literal)'") }
        case nil:
            throw error(isAtEnd ? "unexpected end of JSON, expected a value" : "expected a value")
        }
    }

    // MARK: Errors

    func error(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset, reason: reason)
    }

    // MARK: Private

    private func peek() -> UInt8? {
        offset < bytes.count ? bytes[offset] : nil
    }

    private mutating func consume(_ byte: UInt8, expecting what: @autoclosure () -> String) throws(JSONSyntaxError) {
        guard peek() == byte else {
            throw error(isAtEnd ? "unexpected end of JSON, expected \(what())" : "expected \(what())")
        }
        offset += 1
    }

    private mutating func skipDigits() -> Int {
        let start = offset
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { offset += 1 }
        return offset - start
    }

    private func decodeUTF8(_ raw: UnsafeRawBufferPointer, at start: Int) throws(JSONSyntaxError) -> String {
        let utf8 = raw.assumingMemoryBound(to: UInt8.self)
        // Names are nearly always ASCII, which cannot be malformed: the non-generic decoding
        // initializer is then exact and several times faster than `String(validating:)`.
        if utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: utf8, as: UTF8.self)
        }
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw JSONSyntaxError(offset: start, reason: "string is not valid UTF-8")
        }
        return string
    }

    private mutating func readEscape(into decoded: inout [UInt8]) throws(JSONSyntaxError) {
        guard let byte = peek() else { throw error("unterminated escape") }
        offset += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var scalarValue = UInt32(try readHex4())
            if (0xD800..<0xDC00).contains(scalarValue) {
                guard peek() == UInt8(ascii: "\\") else { throw error("unpaired UTF-16 surrogate in \\u escape") }
                offset += 1
                guard peek() == UInt8(ascii: "u") else { throw error("unpaired UTF-16 surrogate in \\u escape") }
                offset += 1
                let low = UInt32(try readHex4())
                guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired UTF-16 surrogate in \\u escape") }
                scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(scalarValue) else {
                throw error("unpaired UTF-16 surrogate in \\u escape")
            }
            decoded.append(contentsOf: scalar.utf8)
        default:
            offset -= 1
            throw error("invalid escape sequence")
        }
    }

    private mutating func readHex4() throws(JSONSyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = peek() else { throw error("unterminated \\u escape") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt16(digit)
            offset += 1
        }
        return value
    }
}

/// Malformed JSON, located by byte offset into the scanned bytes.
struct JSONSyntaxError: Error, Sendable, Equatable {
    let offset: Int
    let reason: String
}
