import Foundation
import Testing
@testable import Service

@Suite struct DirectFileOutputTests {
    /// Sizes around the block boundary, written in uneven pieces: the file is every byte, in
    /// order (whole blocks direct, the rest buffered), on a disk file system and on tmpfs,
    /// which refuses O_DIRECT (as the upload pipeline's tests use both).
    @Test(arguments: ["/tmp", "/dev/shm"], [0, 1, DirectFileOutput.blockBytes - 1, DirectFileOutput.blockBytes,
                                            DirectFileOutput.blockBytes + 1, DirectFileOutput.blockBytes * 5 / 2])
    func writesEveryByteInOrder(root: String, size: Int) throws {
        let directory = root + "/direct-output-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/artifact.gz"
        let contents = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 12) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        do {
            let output = DirectFileOutput(fd: fd, path: path)
            var offset = 0, piece = 1
            try contents.withUnsafeBytes { bytes in
                while offset < size {
                    let n = min(piece, size - offset)
                    try output.write(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                    offset += n
                    piece = piece * 3 + 7
                }
            }
            try output.finish()
            #expect(output.bytesWritten == size)
        }
        close(fd)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contents))
    }
}
