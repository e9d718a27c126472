import CZlib
@testable import ModelFormats

/// Builds zip archives byte by byte, including ones no honest tool writes, for the reader's
/// hostile-input tests.
struct ZipTestBytes {
    struct Entry {
        var name: String
        var data: [UInt8] = []
        var deflate = false
        var flags: UInt16 = 0
        var versionMadeBy: UInt16 = 3 << 8 | 20
        var unixMode: UInt32 = 0o100644
        var declaredUncompressed: UInt32?
        var crc: UInt32?
        var localHeaderOffset: UInt32?
    }

    static func archive(_ entries: [Entry]) -> [UInt8] {
        var bytes: [UInt8] = []
        var central: [UInt8] = []
        for entry in entries {
            let payload = entry.deflate ? rawDeflate(entry.data) : entry.data
            let crc = entry.crc ?? entry.data.withUnsafeBytes { CRC32.checksum($0) }
            let uncompressed = entry.declaredUncompressed ?? UInt32(entry.data.count)
            let offset = entry.localHeaderOffset ?? UInt32(bytes.count)
            let name = Array(entry.name.utf8)
            func common(_ out: inout [UInt8]) {
                out.appendLittleEndian(UInt16(20))
                out.appendLittleEndian(entry.flags)
                out.appendLittleEndian(UInt16(entry.deflate ? 8 : 0))
                out.appendLittleEndian(UInt32(0x0021_0000))
                out.appendLittleEndian(crc)
                out.appendLittleEndian(UInt32(payload.count))
                out.appendLittleEndian(uncompressed)
                out.appendLittleEndian(UInt16(name.count))
                out.appendLittleEndian(UInt16(0))
            }
            bytes.appendLittleEndian(UInt32(0x0403_4b50))
            common(&bytes)
            bytes += name + payload
            central.appendLittleEndian(UInt32(0x0201_4b50))
            central.appendLittleEndian(entry.versionMadeBy)
            common(&central)
            central += [0, 0, 0, 0, 0, 0]
            central.appendLittleEndian(entry.unixMode << 16)
            central.appendLittleEndian(offset)
            central += name
        }
        let directoryOffset = bytes.count
        bytes += central
        bytes.appendLittleEndian(UInt32(0x0605_4b50))
        bytes.appendLittleEndian(UInt32(0))
        bytes.appendLittleEndian(UInt16(entries.count))
        bytes.appendLittleEndian(UInt16(entries.count))
        bytes.appendLittleEndian(UInt32(central.count))
        bytes.appendLittleEndian(UInt32(directoryOffset))
        bytes.appendLittleEndian(UInt16(0))
        return bytes
    }

    static func rawDeflate(_ data: [UInt8], level: Int32 = 9, strategy: Int32 = Z_DEFAULT_STRATEGY) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, strategy, ZLIB_VERSION,
                                   Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))))
        var input = data
        let produced = input.withUnsafeMutableBytes { i in
            out.withUnsafeMutableBytes { o in
                stream.next_in = i.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(o.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return Int(stream.total_out)
            }
        }
        return Array(out[..<produced])
    }
}

func parseZip(_ bytes: [UInt8], limits: ArchiveLimits = ArchiveLimits()) throws -> ZipArchive {
    try bytes.withUnsafeBytes { try ZipArchive(parsing: $0, limits: limits) }
}

func zipContents(_ bytes: [UInt8], _ path: String) throws -> [UInt8] {
    let archive = try parseZip(bytes)
    return try bytes.withUnsafeBytes { try archive.contents(of: archive.entry(at: path)!, in: $0) }
}
