import Foundation
import Glibc
import HTTP

/// Streams an upload into a temp file under `tmp/`, hashing it on the way, so the model
/// never sits whole in memory. A multipart body is unwrapped to its file part: the one named
/// `partName` (`model`, `dataset`) or `file`.
final class UploadSink: HTTPBodySink, @unchecked Sendable {
    // @unchecked: written on one event loop thread, then read by the responder only after
    // `finish()` returned (the connection hands it over with the completed request).

    let path: String
    private let fd: Int32
    private let pipeline: UploadPipeline
    private var multipart: MultipartParser?
    private let partName: String
    private var inFilePart = false
    private var sawFilePart = false
    private(set) var bytesWritten: Int64 = 0
    private(set) var sha256 = ""
    private var finished = false

    init(directory: String, multipartBoundary: String?, partName: String = "model") throws {
        self.partName = partName
        path = directory + "/upload-" + UUID().uuidString
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Problem.storage("could not create a temporary file for the upload: \(String(cString: strerror(errno)))")
        }
        multipart = multipartBoundary.map { MultipartParser(boundary: $0) }
        pipeline = UploadPipeline(fd: fd, path: path)
    }

    deinit {
        // No chunk may still be writing to the descriptor when it is closed and reused.
        pipeline.abandon()
        if fd >= 0 { close(fd) }
        if !finished { unlink(path) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var parser = multipart else { return try store(bytes) }
        defer { multipart = parser }
        do {
            try parser.feed(bytes) { event in
                switch event {
                case .partStart(let headers):
                    let d = MultipartParser.disposition(headers)
                    inFilePart = !sawFilePart && (d.name == partName || d.name == "file")
                    if inFilePart { sawFilePart = true }
                case .data(let data):
                    if inFilePart { try store(data) }
                case .partEnd:
                    inFilePart = false
                }
            }
        } catch let failure as MultipartParser.Failure {
            throw Problem.invalidRequest("the multipart body is malformed: \(failure.description)")
        }
    }

    private func store(_ bytes: UnsafeRawBufferPointer) throws {
        try pipeline.append(bytes)
        bytesWritten += Int64(bytes.count)
    }

    func finish() throws {
        if let parser = multipart {
            do { try parser.finish() } catch { throw Problem.invalidRequest("the multipart body is malformed: \(error)") }
            guard sawFilePart else {
                throw Problem.invalidRequest("the multipart body has no part named '\(partName)'; send it with curl -F \(partName)=@FILE", field: partName)
            }
        }
        try pipeline.submitLast()
    }

    func whenReady(_ resume: @escaping @Sendable () -> Void) -> Bool {
        pipeline.whenReady(resume)
    }

    /// Waits until every byte is written and hashed (off the event loop); sets `sha256`.
    func awaitStored() throws {
        sha256 = try pipeline.finish()
    }

    /// Makes the bytes durable before the upload is acknowledged. Runs off the event loop.
    func sync() throws {
        guard fsync(fd) == 0 else { throw Problem.storage("fsync of the upload failed: \(String(cString: strerror(errno)))") }
    }

    /// Moves the file to `destination` (atomic rename); the sink no longer owns it afterwards.
    func commit(to destination: String) throws {
        guard rename(path, destination) == 0 else {
            throw Problem.storage("storing the upload failed: \(String(cString: strerror(errno)))")
        }
        finished = true
    }

    func abort() {
        pipeline.abandon()
        unlink(path)
        finished = true
    }
}
