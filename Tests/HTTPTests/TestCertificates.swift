import Foundation

/// A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it, made with the
/// openssl command line in a fresh temporary directory; also an expired one and a key that
/// belongs to no certificate, for the start-up errors.
struct TestCertificates {
    let directory: String
    var caCertificate: String { directory + "/ca.pem" }
    var certificate: String { directory + "/server.pem" }
    var privateKey: String { directory + "/server.key" }
    var expiredCertificate: String { directory + "/expired.pem" }
    var otherKey: String { directory + "/other.key" }

    /// `name` distinguishes CAs, so a reload to another CA's certificate can be told apart.
    init(name: String = "quantd test CA") throws {
        directory = NSTemporaryDirectory() + "quantd-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=\(name)"], in: directory)
        try Self.openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], in: directory)
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: directory + "/ext.cnf", atomically: true, encoding: .utf8)
        for (out, days) in [("server.pem", "30"), ("expired.pem", "0")] {
            try Self.openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                              "-out", out, "-days", days, "-extfile", "ext.cnf"], in: directory)
        }
        try Self.openssl(["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key"], in: directory)
    }

    /// Runs a command line tool to completion; its output as text (stderr included).
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], in directory: String? = nil, input: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        // Input from a file, not a pipe whose ends this side would have to close while
        // Foundation's Process closes them too.
        let inputPath = NSTemporaryDirectory() + "quantd-tls-input-" + UUID().uuidString
        try Data((input ?? "").utf8).write(to: URL(fileURLWithPath: inputPath))
        defer { try? FileManager.default.removeItem(atPath: inputPath) }
        let inputHandle = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        process.standardInput = inputHandle
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try inputHandle.close()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let (status, output) = try run("openssl", arguments, in: directory)
        guard status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments[0]) failed: \(output)"]) }
    }
}
