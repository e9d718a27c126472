import Testing
@testable import HTTP

// Inputs FuzzHTTPRequestParser found, each now a regression test.

/// A request line over its limit whose end comes with a fault of its own (a bare LF) was 400
/// when read at once but 414 when read in pieces, where the limit trips before the LF arrives.
/// Every feeding now refuses it with 414, and likewise a header section over its limit with 431.
@Test func limitBeforeALaterFaultWhateverTheReads() {
    let fuzzed = [UInt8](repeating: 0x00, count: 279) + [0x0A]
    #expect(parseAllWays(fuzzed, limits: limits(requestLine: 256)).errorStatus == 414)
    #expect(parseAllWays(Array("GET /aaaaaaaaaaaa HTTP/1.1\n\n".utf8), limits: limits(requestLine: 16)).errorStatus == 414)
    #expect(parseAllWays(Array("GET /aaaaaaaaaaaa HTTP/1.1\r\nHost: h\n\r\n".utf8), limits: limits(requestLine: 16)).errorStatus == 414)
    #expect(parseAllWays(Array("GET / HTTP/1.1\r\nHost: h\r\nX-Long: 0123456789\n\r\n".utf8), limits: limits(headerBytes: 32)).errorStatus == 431)
    let trailer = Array((chunkedPost + "0\r\nX-Long: " + String(repeating: "t", count: 70) + "\n\r\n").utf8)
    #expect(parseAllWays(trailer, limits: limits(headerBytes: 64)).errorStatus == 431)
}
