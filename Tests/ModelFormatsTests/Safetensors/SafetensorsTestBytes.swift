/// A safetensors file image: length prefix, `json` verbatim, then `dataByteCount` data bytes
/// (0, 1, 2, … mod 256). `declaredLength` overrides the prefix to build inconsistent files.
func safetensorsBytes(json: String, dataByteCount: Int = 0, declaredLength: UInt64? = nil) -> [UInt8] {
    let jsonBytes = Array(json.utf8)
    var bytes = withUnsafeBytes(of: (declaredLength ?? UInt64(jsonBytes.count)).littleEndian, Array.init)
    bytes += jsonBytes
    bytes += (0..<dataByteCount).map { UInt8(truncatingIfNeeded: $0) }
    return bytes
}

/// One header entry in the compact form writers produce.
func tensorJSON(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
    let dims = shape.map(String.init).joined(separator: ",")
    return #""\#(name)":{"dtype":"\#(dtype)","shape":[\#(dims)],"data_offsets":[\#(begin),\#(end)]}"#
}
