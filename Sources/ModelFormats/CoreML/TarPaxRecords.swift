/// The fields of a pax extended header that matter here: records of the form
/// `"<length> <key>=<value>\n"`, where length counts the whole record.
struct TarPaxRecords {
    var path: String?
    var size: UInt64?

    init(parsing bytes: UnsafeRawBufferPointer, entry: String) throws(ArchiveError) {
        var rest = bytes[...]
        while !rest.isEmpty {
            guard let space = rest.firstIndex(of: 0x20),
                  let length = Int(String(decoding: rest[..<space], as: UTF8.self)),
                  length > space - rest.startIndex + 1, length <= rest.count,
                  rest[rest.startIndex + length - 1] == 0x0A
            else { throw .corrupt(entry: entry, reason: "malformed pax extended header") }
            let record = rest[(space + 1)..<(rest.startIndex + length - 1)]
            rest = rest[(rest.startIndex + length)...]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw .corrupt(entry: entry, reason: "pax record without '='")
            }
            let key = String(decoding: record[..<equals], as: UTF8.self)
            let value = String(decoding: record[(equals + 1)...], as: UTF8.self)
            switch key {
            case "path":
                path = value
            case "size":
                guard let number = UInt64(value) else { throw .corrupt(entry: entry, reason: "pax size '\(value)' is not a number") }
                size = number
            case "linkpath":
                throw .unsupportedEntryType(entry: entry, type: "link")
            default:
                continue  // times, owners, charsets: irrelevant to the bytes
            }
        }
    }
}
