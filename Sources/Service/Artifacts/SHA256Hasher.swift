import COpenSSL

/// Incremental SHA-256 through OpenSSL's EVP interface (uses the CPU's SHA extensions).
/// Not thread-safe; `@unchecked Sendable` so a serial queue can own it (one user at a time).
final class SHA256Hasher: @unchecked Sendable {
    private let context: OpaquePointer

    init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    /// Lowercase hex digest; the hasher is spent afterwards.
    func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}

private func String(format: String, _ byte: UInt8) -> String {
    let hex = Array("0123456789abcdef".utf8)
    return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
}
