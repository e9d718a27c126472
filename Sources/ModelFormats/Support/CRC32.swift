import CCRC32
import CZlib

/// CRC-32 (the zip/gzip polynomial), incrementally.
public struct CRC32: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        value = ccrc32_update(value, base, bytes.count)
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    /// The CRC of A followed by B from the CRCs of A and B and B's length, without the bytes:
    /// what lets pieces checksummed on different threads share one gzip trailer.
    public static func combine(_ first: UInt32, _ second: UInt32, secondLength: Int) -> UInt32 {
        UInt32(crc32_combine(uLong(first), uLong(second), secondLength))
    }
}
