import CTLS

/// A loaded certificate chain and key with the server's TLS policy (TLS 1.2+, 1.3 preferred,
/// forward-secret AEAD ciphers, ALPN http/1.1). Immutable; a reload builds a new one, and the
/// sessions of the old one keep it alive until they end.
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the OpenSSL context is only read after construction (sessions are made from
    // it on any loop), which OpenSSL allows concurrently.
    let pointer: OpaquePointer

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(certificatePath: String, privateKeyPath: String) throws(LoadError) {
        var message = [CChar](repeating: 0, count: 1024)
        guard let context = ctls_context_new(certificatePath, privateKeyPath, &message, message.count) else {
            throw LoadError(description: String(cString: message))
        }
        pointer = context
    }

    deinit { ctls_context_free(pointer) }
}

/// One connection's TLS session, driven by its event loop.
final class TLSSession {
    enum Outcome: Equatable {
        case bytes(Int)
        case closed
        case wantRead
        case wantWrite
        case failed
    }

    private let pointer: OpaquePointer
    /// Keeps the context alive as long as the session.
    private let context: TLSContext

    init?(context: TLSContext, fd: Int32) {
        guard let session = ctls_session_new(context.pointer, fd) else { return nil }
        pointer = session
        self.context = context
    }

    deinit { ctls_session_free(pointer) }

    /// `.bytes(0)` once the handshake is complete.
    func handshake() -> Outcome {
        let result = ctls_handshake(pointer)
        return result == 1 ? .bytes(0) : Self.outcome(Int(result))
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int) -> Outcome {
        Self.outcome(ctls_read(pointer, buffer, count))
    }

    func write(_ bytes: UnsafeRawPointer, count: Int) -> Outcome {
        Self.outcome(ctls_write(pointer, bytes, count))
    }

    func shutdown() { ctls_shutdown(pointer) }

    var version: String { String(cString: ctls_version(pointer)) }

    var alpn: String {
        var out = [CChar](repeating: 0, count: 64)
        ctls_alpn(pointer, &out, out.count)
        return String(cString: out)
    }

    private static func outcome(_ result: Int) -> Outcome {
        switch Int32(result) {
        case _ where result > 0: .bytes(result)
        case CTLS_CLOSED: .closed
        case CTLS_WANT_READ: .wantRead
        case CTLS_WANT_WRITE: .wantWrite
        default: .failed
        }
    }
}
