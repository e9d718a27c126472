import Testing
@testable import ModelFormats

@Suite struct JSONStringEncodingTests {
    private func encoded(_ string: String) -> String {
        var output: [UInt8] = []
        appendJSONStringLiteral(string, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    @Test(arguments: [
        ("plain.weight", #""plain.weight""#),
        ("q\"b\\s/", #""q\"b\\s/""#),
        ("\u{8}\u{c}\n\r\t", #""\b\f\n\r\t""#),
        ("\u{0}\u{1f}\u{7f}", "\"\\u0000\\u001f\u{7f}\""),
        ("é😀", "\"é😀\""),
    ])
    func escapesLikeSerdeJSON(string: String, expected: String) {
        #expect(encoded(string) == expected)
    }

    @Test(arguments: ["", "a\"b", "\\\\", "\u{0}\u{1}\u{1f}", "日本語 😀", "\n\t\r"])
    func roundTripsThroughTheScanner(string: String) throws {
        var output: [UInt8] = []
        appendJSONStringLiteral(string, to: &output)
        let decoded = try output.withUnsafeBytes { bytes in
            var scanner = JSONScanner(bytes)
            return try scanner.readString()
        }
        #expect(decoded == string)
    }
}
