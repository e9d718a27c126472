import Foundation
import Testing
@testable import HTTP

/// HTTPS on the same server, checked with the real clients: curl --cacert, openssl s_client.
/// One test at a time, on certificates made once: each client is a child process, and fewer of
/// them at once keep Foundation's Process machinery out of the other suites' way.
@Suite(.serialized) struct TLSTests {
    static let first = Result { try TestCertificates(name: "first CA") }
    static let second = Result { try TestCertificates(name: "second CA") }

    static func server(_ certificates: TestCertificates, _ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> StubServer {
        let tls = try TLSContext(certificatePath: certificates.certificate, privateKeyPath: certificates.privateKey)
        return try StubServer(tls: tls, configure)
    }

    @Test func curlVerifiesTheCertificateAndGetsHTTP11OverTLS13() throws {
        let certificates = try Self.first.get()
        let server = try Self.server(certificates)
        defer { server.stop() }
        let (status, output) = try TestCertificates.run("curl", ["-sS", "-v", "--cacert", certificates.caCertificate,
                                                                 "-H", "Transfer-Encoding: chunked", "--data-binary", "hello",
                                                                 "https://127.0.0.1:\(server.port)/echo?x=1"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("POST /echo?x=1 host=127.0.0.1:\(server.port) body=hello"), "\(output)")
        #expect(output.contains("TLSv1.3"), "\(output)")
        #expect(output.contains("ALPN: server accepted http/1.1") || output.contains("ALPN, server accepted to use http/1.1"), "\(output)")
    }

    @Test func largeBodiesGoBothWaysOverTLS() throws {
        let certificates = try Self.first.get()
        let server = try Self.server(certificates) { _ in }
        defer { server.stop() }
        // The echo responder collects at most 1 MiB; 900 KB each way crosses many TLS records.
        let body = String((0..<900_000).map { _ in "abcdefghij".randomElement()! })
        let file = certificates.directory + "/body.txt"
        try body.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try TestCertificates.run("curl", ["-sS", "--cacert", certificates.caCertificate, "--data-binary", "@" + file,
                                                                 "https://127.0.0.1:\(server.port)/big"])
        #expect(status == 0)
        #expect(output == "POST /big host=127.0.0.1:\(server.port) body=\(body)")
    }

    @Test func opensslSeesModernProtocolsOnly() throws {
        let certificates = try Self.first.get()
        let server = try Self.server(certificates)
        defer { server.stop() }
        let address = "127.0.0.1:\(server.port)"
        let modern = try TestCertificates.run("openssl", ["s_client", "-connect", address, "-CAfile", certificates.caCertificate,
                                                          "-alpn", "http/1.1", "-brief", "-ign_eof"], input: "GET /s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(modern.output.contains("Protocol version: TLSv1.3"), "\(modern.output)")
        #expect(modern.output.contains("Verification: OK"), "\(modern.output)")
        #expect(modern.output.contains("GET /s host=a body="), "\(modern.output)")
        let twelve = try TestCertificates.run("openssl", ["s_client", "-connect", address, "-tls1_2", "-brief"], input: "")
        #expect(twelve.output.contains("Protocol version: TLSv1.2"), "\(twelve.output)")
        #expect(twelve.output.contains("ECDHE"), "\(twelve.output)")
        let old = try TestCertificates.run("openssl", ["s_client", "-connect", address, "-tls1_1", "-brief"], input: "")
        #expect(old.status != 0, "TLS 1.1 must be refused: \(old.output)")
        let weak = try TestCertificates.run("openssl", ["s_client", "-connect", address, "-tls1_2", "-cipher", "AES128-SHA", "-brief"], input: "")
        #expect(weak.status != 0, "a cipher without forward secrecy must be refused: \(weak.output)")
    }

    @Test func plainHTTPOnTheTLSPortGetsAClearAnswer() throws {
        let certificates = try Self.first.get()
        let server = try Self.server(certificates)
        defer { server.stop() }
        let client = try RawSocket(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let (text, timedOut) = client.readAll()
        #expect(!timedOut, "the server must answer and close, not hang")
        #expect(text.hasPrefix("HTTP/1.1 400"), "\(text)")
        #expect(text.contains("HTTPS"), "\(text)")
    }

    @Test func aClientThatNeverFinishesTheHandshakeIsClosed() throws {
        let certificates = try Self.first.get()
        let server = try Self.server(certificates) { $0.tlsHandshakeTimeout = 1 }
        defer { server.stop() }
        let silent = try RawSocket(port: server.port, timeout: 10)
        let started = Date()
        #expect(silent.readAll().timedOut == false)
        #expect(Date().timeIntervalSince(started) < 8)
        let partial = try RawSocket(port: server.port, timeout: 10)
        partial.send("\u{16}\u{03}\u{01}")
        #expect(partial.readAll().timedOut == false)
    }

    @Test func aReloadServesTheNewCertificateToNewConnections() throws {
        let (first, second) = (try Self.first.get(), try Self.second.get())
        let server = try Self.server(first)
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/r"
        #expect(try TestCertificates.run("curl", ["-sS", "--cacert", first.caCertificate, url]).status == 0)
        server.server.reloadTLS(try TLSContext(certificatePath: second.certificate, privateKeyPath: second.privateKey))
        #expect(try TestCertificates.run("curl", ["-sS", "--cacert", second.caCertificate, url]).status == 0)
        #expect(try TestCertificates.run("curl", ["-sS", "--cacert", first.caCertificate, url]).status != 0)
    }

    @Test func unusableCertificatesAreRefusedWithAReason() throws {
        let certificates = try Self.first.get()
        Thread.sleep(forTimeInterval: 1.1)  // the expired certificate's notAfter is its creation second
        #expect { try TLSContext(certificatePath: certificates.expiredCertificate, privateKeyPath: certificates.privateKey) } throws: {
            "\($0)".contains("expired")
        }
        #expect { try TLSContext(certificatePath: certificates.certificate, privateKeyPath: certificates.otherKey) } throws: {
            "\($0)".contains("does not match")
        }
        #expect { try TLSContext(certificatePath: certificates.directory + "/missing.pem", privateKeyPath: certificates.privateKey) } throws: {
            "\($0)".contains("missing.pem")
        }
    }
}
