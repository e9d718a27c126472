#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import ModelFormats

@Suite struct FileDescriptorOutputTests {
    @Test func writesSmallAndLargePiecesInOrder() throws {
        let pieces: [[UInt8]] = [[1, 2, 3], Array(repeating: 7, count: 100), [], [4], Array(repeating: 9, count: 40), [5, 6]]
        try withTemporaryDirectory { directory in
            let path = directory + "/out"
            try withOutputFile(path) { descriptor in
                // A 64-byte buffer makes the 100- and 40-byte pieces take the direct and the flush paths.
                var output = FileDescriptorOutput(fileDescriptor: descriptor, bufferCapacity: 64)
                for piece in pieces { try piece.withUnsafeBytes { try output.append($0) } }
                try output.flush()
            }
            #expect(try readFile(path) == pieces.flatMap { $0 })
        }
    }

    @Test func writesEverythingThroughAPipeThatAcceptsPartialWrites() async throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        // Far larger than a pipe's 64 KiB capacity, so the kernel accepts it in parts.
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let reader = Task.detached { () throws -> [UInt8] in
            defer { close(readEnd) }
            return try readAll(from: readEnd)
        }
        var output = FileDescriptorOutput(fileDescriptor: writeEnd, bufferCapacity: 4096)
        try payload.withUnsafeBytes { try output.append($0) }
        try output.flush()
        close(writeEnd)
        #expect(try await reader.value == payload)
    }

    @Test func reportsWriteFailures() throws {
        var output = FileDescriptorOutput(fileDescriptor: -1, bufferCapacity: 4)
        #expect(throws: FileAccessError.systemCall("write", path: nil, errno: EBADF)) {
            try [UInt8](repeating: 0, count: 8).withUnsafeBytes { try output.append($0) }
        }
    }
}
