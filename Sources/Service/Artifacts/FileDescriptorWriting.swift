import Glibc

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32) throws {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            throw Problem.storage("writing a file failed: \(String(cString: strerror(errno)))")
        }
        offset += n
    }
}
