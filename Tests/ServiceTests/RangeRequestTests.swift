import Foundation
import Testing

/// Artifact downloads are resumable and cacheable: ranges, validators, HEAD, and curl -C -.
@Suite("range requests and validators")
struct RangeRequestTests {
    @Test("Range, If-None-Match and HEAD on the artifact")
    func rangesAndValidators() throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(SafetensorsFixture.standard(seed: 11).bytes)
        let path = "/v1/jobs/\(jobID)/artifact"

        let full = try server.get(path)
        #expect(full.status == 200)
        #expect(full.header("Accept-Ranges") == "bytes")
        let size = full.body.count
        #expect(size > 1000)
        let etag = try #require(full.header("ETag"))

        let tail = try server.get(path, headers: [("Range", "bytes=100-")])
        #expect(tail.status == 206)
        #expect(tail.header("Content-Range") == "bytes 100-\(size - 1)/\(size)")
        #expect(tail.body == Array(full.body[100...]), "the 206 body is the tail of the full download")

        let middle = try server.get(path, headers: [("Range", "bytes=10-19")])
        #expect(middle.status == 206)
        #expect(middle.body == Array(full.body[10..<20]))

        let suffix = try server.get(path, headers: [("Range", "bytes=-50")])
        #expect(suffix.status == 206)
        #expect(suffix.body == Array(full.body.suffix(50)))

        let beyond = try server.get(path, headers: [("Range", "bytes=999999999-")])
        #expect(beyond.status == 416)
        #expect(beyond.header("Content-Range") == "bytes */\(size)")

        let notModified = try server.get(path, headers: [("If-None-Match", etag)])
        #expect(notModified.status == 304)
        #expect(notModified.body.isEmpty)
        #expect(notModified.header("ETag") == etag)

        let staleIfRange = try server.get(path, headers: [("Range", "bytes=100-"), ("If-Range", "\"something-else\"")])
        #expect(staleIfRange.status == 200, "a Range with a stale If-Range gets the whole file")
        #expect(staleIfRange.body == full.body)
    }

    @Test("HEAD gives the headers with Content-Length and no body")
    func headHasNoBody() throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(SafetensorsFixture.standard(seed: 12).bytes)
        let size = try server.downloadArtifact(jobID).count

        let client = try RawHTTPClient(port: server.port)
        defer { client.close() }
        try client.send(RawHTTPClient.requestBytes("HEAD", "/v1/jobs/\(jobID)/artifact"))
        let head = try client.readResponse(headRequest: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "\(size)")
        #expect(head.header("ETag") != nil)
        #expect(!client.hasUnreadBytes(within: 0.5), "no body follows a HEAD response")
        // The connection is still in step: the next response parses cleanly.
        try client.send(RawHTTPClient.requestBytes("GET", "/healthz"))
        let next = try client.readResponse()
        #expect(next.status == 200 && next.json["status"] as? String == "ok")
    }

    @Test("curl -C - resumes a truncated download into the identical file")
    func curlResume() throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(SafetensorsFixture.standard(seed: 13).bytes)
        let url = server.baseURL + "/v1/jobs/\(jobID)/artifact"
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let fullPath = dir + "/full.gz", partialPath = dir + "/partial.gz"
        let full = try Curl.run(["-o", fullPath, url])
        #expect(full.exitCode == 0 && full.status == 200, "\(full.stderr)")
        let fullBytes = try Array(Data(contentsOf: URL(fileURLWithPath: fullPath)))
        try Data(fullBytes.prefix(fullBytes.count / 3)).write(to: URL(fileURLWithPath: partialPath))

        let resumed = try Curl.run(["-C", "-", "-o", partialPath, url])
        #expect(resumed.exitCode == 0, "\(resumed.stderr)")
        #expect(resumed.status == 206, "curl asked for the rest and got a partial response")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: partialPath))) == fullBytes)
    }
}
