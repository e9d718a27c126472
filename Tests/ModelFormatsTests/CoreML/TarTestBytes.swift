/// ustar headers built by hand, as Python's tarfile and GNU tar write them.
func tarHeader(_ name: String, type: UInt8 = UInt8(ascii: "0"), size: Int = 0, prefix: String = "") -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    func put(_ text: String, at offset: Int) { for (i, byte) in text.utf8.enumerated() { block[offset + i] = byte } }
    put(name, at: 0)
    put("0000644", at: 100)
    put(String(repeating: "0", count: 11 - String(size, radix: 8).count) + String(size, radix: 8), at: 124)
    block[156] = type
    put("ustar\u{0}00", at: 257)
    put(prefix, at: 345)
    put("        ", at: 148)
    let sum = block.reduce(0) { $0 + Int($1) }
    put(String(repeating: "0", count: 6 - String(sum, radix: 8).count) + String(sum, radix: 8) + "\u{0} ", at: 148)
    return block
}

func member(_ name: String, _ data: [UInt8], type: UInt8 = UInt8(ascii: "0"), prefix: String = "") -> [UInt8] {
    tarHeader(name, type: type, size: data.count, prefix: prefix) + data + Array(repeating: 0, count: (512 - data.count % 512) % 512)
}

func tar(_ members: [UInt8]...) -> [UInt8] {
    members.flatMap { $0 } + Array(repeating: 0, count: 1024)
}
