#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered writing to a POSIX file descriptor. Small pieces (a header, a tensor written row
/// by row) are gathered into one large `write`; pieces at least as large as the buffer go
/// straight to the kernel without a copy.
struct FileDescriptorOutput {
    private let fileDescriptor: Int32
    private let capacity: Int
    private var buffer: [UInt8] = []

    init(fileDescriptor: Int32, bufferCapacity: Int = 1 << 20) {
        self.fileDescriptor = fileDescriptor
        capacity = bufferCapacity
        buffer.reserveCapacity(bufferCapacity)
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) throws(FileAccessError) {
        if buffer.count + bytes.count <= capacity {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count < capacity {
            buffer.append(contentsOf: bytes)
        } else {
            try Self.writeAll(bytes, to: fileDescriptor)
        }
    }

    /// Writes out everything buffered. Call once at the end; nothing is flushed implicitly.
    mutating func flush() throws(FileAccessError) {
        guard !buffer.isEmpty else { return }
        let descriptor = fileDescriptor
        try buffer.withUnsafeBytes { bytes in
            Result { () throws(FileAccessError) in try Self.writeAll(bytes, to: descriptor) }
        }.get()
        buffer.removeAll(keepingCapacity: true)
    }

    /// `write` may accept fewer bytes than asked (pipes, signals, the 2 GiB per-call cap on
    /// Linux) or fail with EINTR; loop until every byte is out.
    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) throws(FileAccessError) {
        var remaining = bytes
        while !remaining.isEmpty {
            let written = write(descriptor, remaining.baseAddress, remaining.count)
            if written < 0 {
                if errno == EINTR { continue }
                throw .systemCall("write", path: nil, errno: errno)
            }
            // A zero-byte write for a non-empty request would otherwise loop forever.
            guard written > 0 else { throw .systemCall("write", path: nil, errno: EIO) }
            remaining = UnsafeRawBufferPointer(rebasing: remaining[written...])
        }
    }
}
