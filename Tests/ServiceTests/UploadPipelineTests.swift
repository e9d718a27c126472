import Foundation
import Glibc
import Testing
@testable import Service

@Suite struct UploadPipelineTests {
    /// SHA-256 by the system tool, as an independent oracle.
    static func sha256sum(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")[0].description
    }

    static func bytes(_ count: Int) -> [UInt8] {
        var state: UInt64 = 42
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    /// Appends in odd-sized pieces across chunk boundaries; the file and digest must match.
    @Test(arguments: ["/tmp", "/dev/shm"], [0, 1, UploadPipeline.chunkBytes, UploadPipeline.chunkBytes * 2 + 12_345])
    func storesEveryByteAndHashesThem(directory: String, size: Int) throws {
        guard FileManager.default.fileExists(atPath: directory) else { return }
        let path = "\(directory)/pipeline-\(UUID())"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        defer { close(fd); unlink(path) }
        let pipeline = UploadPipeline(fd: fd, path: path)
        let data = Self.bytes(size)
        var offset = 0
        var step = 1
        try data.withUnsafeBytes { all in
            while offset < size {
                let n = min(step, size - offset)
                try pipeline.append(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)]))
                offset += n
                step = step * 7 + 3
            }
        }
        let digest = try pipeline.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
        #expect(digest == (try Self.sha256sum(path)))
    }

    @Test func writeFailuresSurfaceAsStorageProblems() throws {
        // A read-only descriptor makes every write fail, like a full disk would.
        let path = "/tmp/pipeline-ro-\(UUID())"
        FileManager.default.createFile(atPath: path, contents: Data())
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let pipeline = UploadPipeline(fd: fd, path: "/nonexistent/\(UUID())")
        let data = Self.bytes(1000)
        try data.withUnsafeBytes { try pipeline.append($0) }
        do {
            _ = try pipeline.finish()
            Issue.record("expected a storage problem")
        } catch let p as Problem {
            #expect(p.status == 507)
        }
    }
}

extension UploadPipelineTests {
    /// With the disk side stalled, the pipeline reports "full" instead of blocking, and calls
    /// back once it drains: the event loop never sleeps on it.
    @Test func reportsFullInsteadOfBlockingAndCallsBackWhenDrained() throws {
        let path = "/tmp/pipeline-stall-\(UUID())"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        defer { close(fd); unlink(path) }
        let disk = DispatchSemaphore(value: 0)
        let pipeline = UploadPipeline(fd: fd, path: path, beforeWrite: { disk.wait() })
        let chunk = [UInt8](repeating: 7, count: UploadPipeline.chunkBytes)
        for _ in 0...UploadPipeline.maxInFlight {
            try chunk.withUnsafeBytes { try pipeline.append($0) }
        }
        let resumed = DispatchSemaphore(value: 0)
        // The appends above returned although no chunk could be written: nothing blocked.
        #expect(pipeline.whenReady { resumed.signal() } == false)
        for _ in 0...(UploadPipeline.maxInFlight + 1) { disk.signal() }
        #expect(resumed.wait(timeout: .now() + 30) == .success)
        let digest = try pipeline.finish()
        #expect(digest == (try Self.sha256sum(path)))
        #expect(pipeline.whenReady { Issue.record("no wait expected once drained") } == true)
    }
}
