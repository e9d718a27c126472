import Foundation

/// The real curl binary against a test server. Each call dumps the response heads to a file
/// (`-D`) so tests can check status and headers the way curl saw them.
struct CurlResult {
    var exitCode: Int32
    var stdout: [UInt8]
    var stderr: String
    /// Every response head curl received, interim 100s included, in order.
    var heads: [HTTPTestResponse]

    /// The final response's head.
    var final: HTTPTestResponse? { heads.last }
    var status: Int? { final?.status }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(stdout))) as? [String: Any] ?? [:] }
}

enum Curl {
    static func run(_ arguments: [String], in directory: String? = nil) throws -> CurlResult {
        let dump = NSTemporaryDirectory() + "quantd-it-curl-heads-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dump) }
        let result = try Subprocess.run("curl", ["-sS", "--max-time", "120", "-D", dump] + arguments, in: directory)
        let text = (try? String(contentsOfFile: dump, encoding: .utf8)) ?? ""
        return CurlResult(exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, heads: parseHeads(text))
    }

    static func parseHeads(_ text: String) -> [HTTPTestResponse] {
        var heads: [HTTPTestResponse] = []
        for block in text.components(separatedBy: "\r\n\r\n") where !block.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            var lines = block.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { continue }
            let headers = lines.compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            heads.append(HTTPTestResponse(status: status, reason: statusLine.count > 2 ? String(statusLine[2]) : "", headers: headers, body: []))
        }
        return heads
    }
}
