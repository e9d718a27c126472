import Testing
@testable import ModelFormats

@Suite struct JSONScannerTests {
    private func scan<Result>(_ json: String, _ body: (inout JSONScanner) throws -> Result) throws -> Result {
        try Array(json.utf8).withUnsafeBytes { bytes in
            var scanner = JSONScanner(bytes)
            return try body(&scanner)
        }
    }

    @Test func readsNestedObjectsAndArraysInOrder() throws {
        let visited = try scan(#" { "a" : [1, [2], {"b": 3}] , "c": {} } "#) { scanner in
            var events: [String] = []
            try scanner.beginObject()
            while let key = try scanner.nextMemberKey() {
                events.append("key \(key)")
                if key == "a" {
                    try scanner.beginArray()
                    #expect(try scanner.hasNextElement())
                    events.append("number \(try scanner.readNumber().literal)")
                    #expect(try scanner.hasNextElement())
                    try scanner.beginArray()
                    #expect(try scanner.hasNextElement())
                    events.append("number \(try scanner.readNumber().literal)")
                    #expect(try !scanner.hasNextElement())
                    #expect(try scanner.hasNextElement())
                    try scanner.beginObject()
                    events.append("key \(try #require(try scanner.nextMemberKey()))")
                    events.append("number \(try scanner.readNumber().literal)")
                    #expect(try scanner.nextMemberKey() == nil)
                    #expect(try !scanner.hasNextElement())
                } else {
                    try scanner.beginObject()
                    #expect(try scanner.nextMemberKey() == nil)
                }
            }
            scanner.skipWhitespace()
            #expect(scanner.isAtEnd)
            return events
        }
        #expect(visited == ["key a", "number 1", "number 2", "key b", "number 3", "key c"])
    }

    @Test(arguments: [
        (#""plain""#, "plain"),
        (#""q\"b\\s\/""#, "q\"b\\s/"),
        (#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
        (#""\u00e9\u0041""#, "éA"),
        (#""\ud83d\ude00 😀""#, "😀 😀"),
        (#""\u0000""#, "\u{0}"),
    ])
    func decodesStrings(json: String, expected: String) throws {
        #expect(try scan(json) { try $0.readString() } == expected)
    }

    @Test(arguments: [
        (#""abc"#, "unterminated string"),
        ("\"a\u{1}b\"", "unescaped control character in string"),
        (#""\x""#, "invalid escape sequence"),
        (#""\ud800""#, "unpaired UTF-16 surrogate in \\u escape"),
        (#""\udc00""#, "unpaired UTF-16 surrogate in \\u escape"),
        (#""\u12g4""#, "invalid hex digit in \\u escape"),
    ])
    func rejectsMalformedStrings(json: String, reason: String) throws {
        #expect(throws: JSONSyntaxError.self) { try scan(json) { try $0.readString() } }
        do {
            _ = try scan(json) { try $0.readString() }
        } catch let error as JSONSyntaxError {
            #expect(error.reason == reason)
        }
    }

    @Test func rejectsInvalidUTF8InStrings() throws {
        let bytes: [UInt8] = [0x22, 0x61, 0xC3, 0x28, 0x22]
        #expect(throws: JSONSyntaxError(offset: 1, reason: "string is not valid UTF-8")) {
            try bytes.withUnsafeBytes { raw in
                var scanner = JSONScanner(raw)
                return try scanner.readString()
            }
        }
    }

    @Test(arguments: [
        ("0", 0), ("42", 42), ("-7", -7), ("9223372036854775807", Int.max),
    ])
    func readsIntegers(json: String, expected: Int) throws {
        #expect(try scan(json) { try $0.readNumber().exactInteger } == expected)
    }

    @Test(arguments: ["1.5", "2e3", "1E-2", "9223372036854775808"])
    func numbersThatAreNotIntsHaveNoExactInteger(json: String) throws {
        // A Number points into the scanned bytes: read it before they are gone.
        let (literal, exactInteger) = try scan(json) { scanner in
            let number = try scanner.readNumber()
            return (number.literal, number.exactInteger)
        }
        #expect(literal == json)
        #expect(exactInteger == nil)
    }

    @Test(arguments: ["-", "1.", ".5", "1e", "-x"])
    func rejectsMalformedNumbers(json: String) throws {
        #expect(throws: JSONSyntaxError.self) { try scan(json) { try $0.readNumber() } }
    }

    @Test func leadingZerosEndTheNumber() throws {
        // "01" is a 0 followed by stray input, which the caller's next read rejects.
        #expect(try scan("01") { try $0.readNumber().literal } == "0")
    }

    @Test(arguments: [
        ("[1,]", "trailing comma before ']'"),
        ("[1 2]", "expected ',' or ']'"),
        ("[1", "unexpected end of JSON, expected ',' or ']'"),
    ])
    func rejectsMalformedArrays(json: String, reason: String) throws {
        do {
            try scan(json) { scanner in
                try scanner.beginArray()
                while try scanner.hasNextElement() { _ = try scanner.readNumber() }
            }
            Issue.record("expected a syntax error")
        } catch let error as JSONSyntaxError {
            #expect(error.reason == reason)
        }
    }

    @Test(arguments: [
        (#"{"a" 1}"#, "expected ':' after object key"),
        ("{1: 1}", "expected a string key"),
        (#"{"a": 1,}"#, "trailing comma before '}'"),
    ])
    func rejectsMalformedObjects(json: String, reason: String) throws {
        do {
            try scan(json) { scanner in
                try scanner.beginObject()
                while try scanner.nextMemberKey() != nil { _ = try scanner.readNumber() }
            }
            Issue.record("expected a syntax error")
        } catch let error as JSONSyntaxError {
            #expect(error.reason == reason)
        }
    }

    @Test(arguments: [
        ("{", JSONScanner.ValueKind.object), ("[", .array), ("\"", .string), ("-1", .number),
        ("7", .number), ("true", .boolean), ("false", .boolean), ("null", .null),
    ])
    func peeksValueKinds(json: String, kind: JSONScanner.ValueKind) throws {
        #expect(try scan("  " + json) { $0.peekValueKind() } == kind)
    }

    @Test func peekReportsNilForNonValues() throws {
        #expect(try scan("}") { $0.peekValueKind() } == nil)
        #expect(try scan("") { $0.peekValueKind() } == nil)
    }

    @Test func skipValueSkipsAnyValueWhole() throws {
        let rest = try scan(#"[{"a": [1, -2.5e3, "x\"y"], "b": {"c": null}}, true, false, null, 7] "tail""#) { scanner in
            try scanner.skipValue()
            return try scanner.readString()
        }
        #expect(rest == "tail")
    }

    @Test func skipValueRejectsBadLiteralsAndDeepNesting() {
        #expect(throws: JSONSyntaxError.self) { try scan("nul") { try $0.skipValue() } }
        #expect(throws: JSONSyntaxError.self) { try scan("]") { try $0.skipValue() } }
        #expect(throws: JSONSyntaxError(offset: 64, reason: "values nested more than 64 deep")) {
            try scan(String(repeating: "[", count: 100)) { try $0.skipValue() }
        }
    }
}
