// Server-side TLS through OpenSSL for the HTTP server's non-blocking connections: a context
// (certificate chain, key, protocol and cipher policy, ALPN) and per-connection sessions driven
// by the event loop. C, because OpenSSL's configuration API is largely macros Swift cannot call.
#ifndef CTLS_H
#define CTLS_H
#include <stddef.h>

typedef struct ctls_context ctls_context;
typedef struct ctls_session ctls_session;

// Results of the session calls besides a byte count.
#define CTLS_CLOSED 0       // the peer closed the TLS session (close_notify) or the socket
#define CTLS_WANT_READ (-1) // retry when the socket is readable
#define CTLS_WANT_WRITE (-2) // retry when the socket is writable
#define CTLS_ERROR (-3)     // protocol or socket error: close the connection

// Loads a PEM certificate chain and private key: TLS 1.2 and 1.3 (1.3 preferred), forward-secret
// AEAD ciphers only, ALPN http/1.1. NULL on failure, with a message in `error`: unreadable
// files, a key that does not match, a certificate that has expired or is not yet valid.
ctls_context *ctls_context_new(const char *certificate_path, const char *private_key_path, char *error, size_t error_length);
void ctls_context_free(ctls_context *context);

// A session on an accepted socket; it keeps its context alive, so a reload does not disturb it.
ctls_session *ctls_session_new(ctls_context *context, int fd);
void ctls_session_free(ctls_session *session);

// 1 once the handshake is complete, else CTLS_WANT_READ, CTLS_WANT_WRITE or CTLS_ERROR.
int ctls_handshake(ctls_session *session);
// Bytes read (> 0), or CTLS_CLOSED / CTLS_WANT_READ / CTLS_WANT_WRITE / CTLS_ERROR.
long ctls_read(ctls_session *session, void *buffer, size_t length);
// Bytes written (> 0; possibly fewer than `length`), or CTLS_WANT_READ / CTLS_WANT_WRITE / CTLS_ERROR.
// A retry after a WANT must pass the same bytes again.
long ctls_write(ctls_session *session, const void *buffer, size_t length);
// Sends close_notify without waiting for the peer's.
void ctls_shutdown(ctls_session *session);
// The negotiated protocol version ("TLSv1.3") and ALPN protocol ("" if none).
const char *ctls_version(ctls_session *session);
void ctls_alpn(ctls_session *session, char *out, size_t length);
#endif
